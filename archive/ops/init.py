"""`arkeep init`: a new store with a fresh archive secret wrapped under the passphrase."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.crypto.keyring import Keyring
from archive.errors import UsageError
from archive.present.kit_html import require_kit_support, write_kit
from archive.storage.store import Store


@dataclass(frozen=True)
class InitResult:
    store: Store
    recovery_code: str
    key_id: str
    kit_path: Path | None


def init_store(root: Path, passphrase: str, kit_path: Path | None = None) -> InitResult:
    if not passphrase:
        raise UsageError("the passphrase is empty; choose one you can remember for decades")
    if kit_path is not None and kit_path.exists():
        raise UsageError(f"{kit_path} already exists; arkeep will not overwrite it")
    if kit_path is not None:
        require_kit_support(kit_path)
    keyring = Keyring.new()
    store = Store.create(root, keyring.wrap(passphrase))
    code = keyring.recovery_code
    if kit_path is not None:
        write_kit(kit_path, code, keyring.key_id, store.root)
        from archive.ops.recovery_kit import record_printed_kit
        record_printed_kit(store, [])
    return InitResult(store, code, keyring.key_id, kit_path)


