"""OpenAI-compatible front door: POST /v1/chat/completions (plain and streamed) and POST /v1/embeddings.

``model: "auto"`` (or no model) lets grump route. Errors use OpenAI's shape
``{"error": {"message", "type", "code", "param"}}`` so its SDKs raise their own
exceptions. The job behind an answer is named in the ``x-grump-job-id`` header.
"""
