"""The small core every wrapper goes through: state, error discipline, OTel handles, wrapping."""
