"""The ``aiobs-otel report`` GenAI section, from a real local sink."""

from __future__ import annotations

import pytest

import aiobs_otel as aiobs
from aiobs_otel.cli import report
from aiobs_otel.cli.sections import genai as genai_section
from aiobs_otel.cli.sinkdata import load


def test_report_section_lists_llm_calls_by_model(tmp_path, fresh_state):
    from aiobs_otel.setup.providers import shutdown

    aiobs.configure(service_name="genai-report", sink_dir=tmp_path)
    for tokens in (100, 300):
        with aiobs.llm_call(provider="openai", model="gpt-4o-mini") as call:
            call.record_usage(input_tokens=tokens, output_tokens=10)
    with pytest.raises(RuntimeError), aiobs.llm_call(provider="acme", model="acme-1"):
        raise RuntimeError("down")
    with aiobs.agent(name="not-an-llm-call"):
        pass
    shutdown(timeout_s=5)
    data = load(tmp_path)
    lines = genai_section.render(data)
    text = "\n".join(lines)
    assert "gpt-4o-mini" in text and "acme-1" in text
    assert "not-an-llm-call" not in text
    row = next(line for line in lines if "gpt-4o-mini" in line).split()
    assert row[2] == "2"  # calls
    assert row[3] == "0"  # errors
    assert row[6] == "400" and row[7] == "20"  # tokens in / out
    assert float(row[8]) > 0  # priced
    acme = next(line for line in lines if "acme-1" in line).split()
    assert acme[3] == "1" and acme[-1] == "-"
    assert "LLM calls" in report.render(data)


def test_report_section_is_hidden_without_llm_calls(tmp_path):
    assert genai_section.render(load(tmp_path)) == []
