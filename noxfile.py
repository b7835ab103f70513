"""nox is the front door: tests, lint, typecheck, bench, demo, docs (and heavy, separate suites)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"  # pip: torch==2.13.0 comes from a local file uv ignores
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
# Everything the default test run needs, beyond the package's own [test] extra.
TEST_DEPS = [
    ".[test,numpy,gpu,openai,anthropic]",
    "pandas>=2.0",  # data: pipeline_stage / DriftMonitor pandas inputs
    "scikit-learn>=1.3",  # quality: metric values checked against sklearn.metrics
    "pyarrow>=14",  # data: pyarrow inputs
    "keras>=3.5,<4",  # training: Keras callback on the torch backend (no TensorFlow)
    "pytorch-lightning>=2.2,<3",  # training: Lightning callback
    "transformers>=4.45",  # training: HF Trainer callback
    "accelerate>=0.26",  # training: HF Trainer needs it
    "opentelemetry-instrumentation-requests>=0.60b0",  # reliability: exporter HTTP not re-traced
    ".[prometheus]",  # backends: configure(prometheus_port=...) scraped by a real Prometheus
    "pyyaml>=6",  # backends: alert rules, their promtool tests and the Collector configs
]
# PyTorch: exactly this version, a local CPU build on our machines (never an open range).
# Installed first, and pinned by the constraints file for every later install, so no package
# that depends on torch can pull a multi-GB CUDA build.
TORCH = "torch==2.13.0"
CONSTRAINTS = ("-c", ".ci/constraints.txt")


def install_test_deps(session: nox.Session) -> None:
    session.install(TORCH, *CONSTRAINTS)
    session.install(*TEST_DEPS, *CONSTRAINTS)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The default test suite (strict mode, no GPU needed)."""
    install_test_deps(session)
    session.run("pytest", "-q", "-m", "not reliability and not tensorflow and not gpu",
                *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over code, tests, benchmarks and examples."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    install_test_deps(session)  # the same packages as the tests, so third-party types match
    session.install("mypy>=1.10", *CONSTRAINTS)
    session.run("mypy")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """pytest-benchmark: every figure is a ratio against a baseline measured in the same run."""
    install_test_deps(session)
    session.run("pytest", "benchmarks", "--benchmark-only", "--benchmark-columns=min,median,ops",
                "-p", "no:randomly", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: ``aiobs-otel demo`` on the embedded local default (no server needed).

    The real OpenAI SDK against a local OpenAI-compatible endpoint, a short PyTorch training run,
    a drifting data pipeline and a quality monitor with late labels; then the HTML report
    (``aiobs-demo/report.html``) and the terminal summary.
    """
    session.install(TORCH, *CONSTRAINTS)
    session.install(".[numpy,openai]", *CONSTRAINTS)
    session.run("aiobs-otel", "demo", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Check the docs: every example runs and every documented name exists."""
    session.install(*TEST_DEPS, *CONSTRAINTS)
    session.run("pytest", "-q", "tests/foundation/test_foundation_docs.py")


@nox.session(python=PYTHON)
def tensorflow(session: nox.Session) -> None:
    """Keras 3 on the TensorFlow backend (a ~570 MB wheel, so its own session)."""
    session.install(TORCH, *CONSTRAINTS)
    session.install(".[test,numpy]", "tensorflow", "keras", *CONSTRAINTS)
    # Only the TensorFlow module: the rest of the suite needs packages this session lacks.
    session.run("pytest", "-q", "-m", "tensorflow", "tests/training/test_training_keras.py",
                *session.posargs)


@nox.session(python=PYTHON)
def reliability(session: nox.Session) -> None:
    """The reliability soaks: latency budgets, unpaced burst, 1M-call leak soak (a few minutes).

    The fast reliability scenarios run in ``tests``; these are marked ``reliability``. Scale the
    soaks with AIOBS_SOAK_SCALE (default 1.0).
    """
    install_test_deps(session)
    # Coexistence with the official OpenAI instrumentation (R14). Only here: installed, its
    # entry point would make `opentelemetry-instrument` in the default tests load it as well.
    # openai-v2 2.4b0 imports opentelemetry.util.genai.instruments, gone in util-genai 1.2.
    session.install("opentelemetry-instrumentation-openai-v2==2.4b0",
                    "opentelemetry-util-genai==1.1b0", *CONSTRAINTS)
    session.run("pytest", "-q", "-s", "-m", "reliability", "-p", "no:randomly",
                "tests/reliability", *session.posargs)
    # The default-run fuzz and stream scenarios again, at full size (10k streams per ending).
    session.run("pytest", "-q", "-p", "no:randomly", "tests/reliability/test_rel_fuzz.py",
                "tests/reliability/test_rel_concurrency.py", "-k", "r22 or r13",
                env={"AIOBS_FUZZ_EXAMPLES": "150", "AIOBS_STREAM_RUNS": "10000"})
