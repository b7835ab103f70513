"""Auto-instrumentation of the ``openai`` SDK: chat completions, responses and embeddings.

Patched (sync and async): ``chat.completions.create`` and ``.parse`` (``.stream()`` goes through
``create``), ``responses.create`` and ``.parse`` (``.stream()`` likewise), ``embeddings.create``.
``with_raw_response`` / ``with_streaming_response`` call the same methods, so they are covered.
One ``chat {model}`` / ``embeddings {model}`` CLIENT span per call, covering the SDK's retries.

>>> import aiobs_otel as aiobs
>>> aiobs.instrument("openai")  # doctest: +SKIP
"""

from __future__ import annotations

from ._base import ProviderInstrumentor, ProviderSpec, Target
from ._streams import ResultKinds

__all__ = ["OpenAIInstrumentor"]


class OpenAIInstrumentor(ProviderInstrumentor):
    """``BaseInstrumentor`` for ``openai``; entry point ``aiobs_openai``.

    >>> OpenAIInstrumentor().instrument()  # doctest: +SKIP
    >>> OpenAIInstrumentor().uninstrument()  # doctest: +SKIP
    """

    library = "openai"
    requirement = "openai >= 1.40"

    def spec(self) -> ProviderSpec:
        import openai
        from openai import _legacy_response, _response

        return ProviderSpec(
            provider="openai",
            default_host="api.openai.com",
            kinds=ResultKinds(
                streams=(openai.Stream,),
                async_streams=(openai.AsyncStream,),
                legacy_responses=(_legacy_response.LegacyAPIResponse,),
                lazy_responses=(_response.APIResponse,),
                async_lazy_responses=(_response.AsyncAPIResponse,),
            ),
        )

    def targets(self) -> list[Target]:
        from openai.resources import embeddings
        from openai.resources.chat import completions

        found: list[Target] = []
        chat = getattr(completions, "completions", completions)  # a package in newer SDKs
        for owner, is_async in ((chat.Completions, False), (chat.AsyncCompletions, True)):
            for name in ("create", "parse"):
                found.append(Target(owner, name, "chat", "openai", is_async))
        for owner, is_async in (
            (embeddings.Embeddings, False), (embeddings.AsyncEmbeddings, True),
        ):
            found.append(Target(owner, "create", "embeddings", "openai", is_async))
        try:
            from openai.resources import responses
        except ImportError:  # an SDK from before the Responses API
            return found
        module = getattr(responses, "responses", responses)
        for owner, is_async in ((module.Responses, False), (module.AsyncResponses, True)):
            for name in ("create", "parse"):
                found.append(Target(owner, name, "chat", "openai.responses", is_async))
        return found
