"""Quickstart: an agent with a tool and an LLM call, recorded on the embedded local default.

Runs with no server: telemetry goes to ./.aiobs (or AIOBS_SINK_DIR) as OTLP-JSON lines, and the
script ends by printing ``aiobs-otel report`` for that directory.

    python examples/quickstart.py
"""

from __future__ import annotations

import time

import aiobs_otel as aiobs
from aiobs_otel.cli.main import main as aiobs_cli


@aiobs.tool(name="lookup_order")
def lookup_order(order_id: str) -> dict[str, str]:
    time.sleep(0.002)
    return {"order_id": order_id, "status": "shipped"}


@aiobs.agent(name="support")
def answer(question: str) -> str:
    order = lookup_order("A-1001")
    with aiobs.llm_call(provider="openai", model="gpt-4o-mini", operation="chat") as call:
        time.sleep(0.01)  # stands in for the HTTP request to the model
        reply = f"Your order {order['order_id']} is {order['status']}."
        call.set_response({
            "id": "chatcmpl-quickstart",
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": reply}}],
            "usage": {"prompt_tokens": 42, "completion_tokens": 12, "total_tokens": 54},
        })
    return reply


def main() -> None:
    settings = aiobs.configure(service_name="quickstart")
    for question in ("Where is my order?", "Has it shipped?", "When will it arrive?"):
        print(answer(question))
    aiobs.shutdown()
    aiobs_cli(["report", str(settings.sink_dir)])


if __name__ == "__main__":
    main()
