"""``slotfill serve``: an HTTP API over a loaded tagger (FastAPI on uvicorn).

Why FastAPI on uvicorn: it is the most used maintained ASGI stack, request models give the
validation (422s) and the OpenAPI schema (rendered offline by ``static/docs.html``) for free,
and plain asyncio leaves room for our own micro-batching queue (:mod:`.batcher`) in front of
the model. LitServe batches too but owns the request loop and adds a process per worker;
Starlette alone would mean writing the validation and the OpenAPI schema by hand.

Nothing here imports torch: with ``backend=onnx`` the tagger is :mod:`slotfill.inference`.
"""
