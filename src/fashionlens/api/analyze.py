"""``POST /v1/analyze``: one photo in, everything fashionlens sees out.

No ``from __future__ import annotations`` here: FastAPI reads the annotations at run time.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile

from fashionlens.api.errors import error_responses
from fashionlens.api.limits import read_capped, run_bounded

router = APIRouter(tags=["analysis"], responses=error_responses(400, 408, 413, 415, 422, 503, 504))


@router.post("/v1/analyze")
async def analyze(
    request: Request,
    image: Annotated[UploadFile, File(description="A JPEG, PNG or WebP photo.")],
    target_accuracy: Annotated[float | None, Form(
        ge=0.5, le=0.999, description="Accuracy the hedged answer must reach "
                                      "(default from the server's settings).")] = None,
    top_k: Annotated[int, Form(ge=1, le=17, description="How many classes to list.")] = 3,
    embedding: Annotated[bool, Form(description="Include the search embedding.")] = False,
    overlay: Annotated[bool, Form(description="Include a transparent PNG of the garment "
                                              "mask (data: URL) to lay over the photo.")] = False,
    lang: Annotated[Literal["en", "es", "ca", "ro", "ru"], Form(
        description="Language of the summary sentence and of colour and garment display "
                    "names.")] = "en",
) -> dict:
    """Garment name, confidence, top-k, hedged label and sentence, garments with boxes and
    colours, colours of the whole photo."""
    state = request.app.state
    data = await read_capped(image, state.settings.max_image_bytes)
    return await run_bounded(state.capacity, state.settings.request_timeout,
                             state.analyzer.analyze, data, target_accuracy=target_accuracy,
                             top_k=top_k, with_embedding=embedding, overlay=overlay,
                             lang=lang)
