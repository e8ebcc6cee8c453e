"""Specs: the logic-model and evaluation-plan formats, their validation and resolution.

``raw`` holds the YAML formats as written (pydantic, unknown keys rejected); ``resolve`` checks
meaning and builds the frozen objects of ``model``. Specs import nothing of the rest of evalkit.
"""
