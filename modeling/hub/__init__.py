"""The Hugging Face Hub side: model cards and Space cards written from measured files, and ``imagenet3d publish``.

* :mod:`modeling.hub.model_card`: the facts a model card is written from (``model_card_data.json`` in the model
  folder: what ``train`` / ``train-baseline`` measured, every ``evaluate`` run) and the hooks the trainers,
  ``evaluate`` and ``init-model --base`` call; :mod:`modeling.hub.model_card_text` renders the card.
* :mod:`modeling.hub.space_card`: the Space's README.md (Spaces YAML) from the Space folder and the installed SDK.
* :mod:`modeling.hub.folders`: what each kind of folder must hold to be published (the plan a dry run prints).
* :mod:`modeling.hub.publish`: the upload (``HfApi``), with one clear error per failure.

Nothing here imports torch or transformers at import time, nor the trainers or ``evaluate`` (they call in here).
"""
