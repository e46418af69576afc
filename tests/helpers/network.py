"""Whether tests that need the Hugging Face Hub can run (they skip with a reason otherwise)."""

import os
import socket


def hub_reachable() -> bool:
    """False when HF_HUB_OFFLINE is set (as in CI) or huggingface.co cannot be reached."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return True
    except OSError:
        return False
