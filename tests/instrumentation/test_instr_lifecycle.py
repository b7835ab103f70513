"""instrument() / uninstrument(): registry, idempotence, exact restore, entry points, imports."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from instr_fakes import MESSAGES, chat_completion, chat_spans

from aiobs_otel import instrumentation


def _methods() -> dict[str, object]:
    import anthropic.resources.messages.messages as am
    import openai.resources.chat.completions.completions as oc
    import openai.resources.embeddings as oe
    import openai.resources.responses.responses as orr

    found = {}
    for cls in (oc.Completions, oc.AsyncCompletions, orr.Responses, orr.AsyncResponses):
        for name in ("create", "parse"):
            found[f"{cls.__qualname__}.{name}"] = cls.__dict__[name]
    for cls in (oe.Embeddings, oe.AsyncEmbeddings):
        found[f"{cls.__qualname__}.create"] = cls.__dict__["create"]
    for cls in (am.Messages, am.AsyncMessages):
        for name in ("create", "parse", "stream"):
            found[f"{cls.__qualname__}.{name}"] = cls.__dict__[name]
    return found


def test_uninstrument_restores_the_very_same_objects():
    before = _methods()
    assert instrumentation.instrument("openai", "anthropic") == ("openai", "anthropic")
    during = _methods()
    assert all(during[k] is not before[k] for k in before), "every target is patched"
    assert instrumentation.uninstrument("openai", "anthropic") == ("openai", "anthropic")
    after = _methods()
    assert all(after[k] is before[k] for k in before), "originals restored by identity"


def test_instrument_twice_patches_once_and_emits_one_span(aiobs_capture, fake, openai_client):
    import openai.resources.chat.completions.completions as oc

    original = oc.Completions.__dict__["create"]
    try:
        instrumentation.instrument("openai")
        first = oc.Completions.__dict__["create"]
        instrumentation.instrument("openai")
        instrumentation.instrument()  # every installed target, openai again included
        assert oc.Completions.__dict__["create"] is first
        assert first.__wrapped__ is original
        fake.json(chat_completion())
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert len(chat_spans(aiobs_capture)) == 1
    finally:
        instrumentation.uninstrument()
    assert oc.Completions.__dict__["create"] is original
    assert not instrumentation.is_instrumented("openai")


def test_the_base_instrumentor_api_works_too():
    import openai.resources.embeddings as oe

    from aiobs_otel.instrumentation.openai import OpenAIInstrumentor

    original = oe.Embeddings.__dict__["create"]
    inst = OpenAIInstrumentor()
    assert inst is OpenAIInstrumentor()  # BaseInstrumentor singleton
    assert inst.instrumentation_dependencies() == ("openai >= 1.40",)
    inst.instrument(skip_dep_check=True)
    assert instrumentation.is_instrumented("openai")
    inst.uninstrument()
    assert oe.Embeddings.__dict__["create"] is original


def test_instrument_with_no_names_picks_every_installed_target():
    assert set(instrumentation.available()) == {"openai", "anthropic"}
    try:
        assert set(instrumentation.instrument()) == {"openai", "anthropic"}
    finally:
        assert set(instrumentation.uninstrument()) == {"openai", "anthropic"}
    assert instrumentation.uninstrument() == ()  # nothing left to undo


def test_unknown_and_missing_targets_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="known targets: anthropic, openai"):
        instrumentation.instrument("cohere")
    entry = instrumentation.REGISTRY["openai"]
    monkeypatch.setitem(instrumentation.REGISTRY, "openai", type(entry)(
        entry.module, entry.cls, "openai_not_installed_here", "openai"))
    with pytest.raises(ImportError, match=r"pip install 'aiobs-otel\[openai\]'"):
        instrumentation.instrument("openai")
    assert "openai" not in instrumentation.available()


def test_entry_point_names_accepted_by_instrument():
    try:
        assert instrumentation.instrument("aiobs_openai") == ("openai",)
    finally:
        instrumentation.uninstrument("openai")


def test_entry_points_are_registered():
    eps = {ep.name: ep.value for ep in entry_points(group="opentelemetry_instrumentor")}
    assert eps.get("aiobs_openai") == "aiobs_otel.instrumentation.openai:OpenAIInstrumentor"
    assert eps.get("aiobs_anthropic") == (
        "aiobs_otel.instrumentation.anthropic:AnthropicInstrumentor")


def test_configure_instruments_from_settings(fresh_state, tmp_path):
    import aiobs_otel as aiobs

    try:
        aiobs.configure(instrument=("openai",), sink_dir=tmp_path / "sink")
        assert instrumentation.is_instrumented("openai")
        assert not instrumentation.is_instrumented("anthropic")
    finally:
        instrumentation.uninstrument()


def test_importing_the_instrumentation_imports_no_sdk():
    code = (
        "import sys, aiobs_otel.instrumentation, aiobs_otel.instrumentation.openai, "
        "aiobs_otel.instrumentation.anthropic\n"
        "bad = [m for m in ('openai', 'anthropic', 'opentelemetry.sdk') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_loader_path_with_the_sdk_missing_skips_quietly(monkeypatch):
    """opentelemetry-instrument passes skip_dep_check=True and skips on ModuleNotFoundError."""
    from aiobs_otel.instrumentation.anthropic import AnthropicInstrumentor

    monkeypatch.setitem(sys.modules, "anthropic", None)  # "not installed"
    with pytest.raises(ModuleNotFoundError):
        AnthropicInstrumentor().instrument(skip_dep_check=True)
    assert not AnthropicInstrumentor().is_instrumented_by_opentelemetry


def test_a_foreign_wrapper_on_top_is_left_alone_and_ours_goes_quiet(
        aiobs_capture, fake, openai_client, caplog):
    import openai.resources.chat.completions.completions as oc
    import wrapt

    original = oc.Completions.__dict__["create"]
    instrumentation.instrument("openai")
    def passthrough(wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs)

    foreign = wrapt.FunctionWrapper(oc.Completions.__dict__["create"], passthrough)
    oc.Completions.create = foreign
    try:
        instrumentation.uninstrument("openai")
        assert oc.Completions.__dict__["create"] is foreign
        assert "re-wrapped by another library" in caplog.text
        fake.json(chat_completion())
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert chat_spans(aiobs_capture) == []  # our wrapper, still in the chain, passes through
    finally:
        oc.Completions.create = original
