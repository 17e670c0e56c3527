"""A workspace is a directory holding keywatch.toml, keywatch.db and keyrings/.

Every command finds it from --workspace, else $KEYWATCH_WORKSPACE, else the
current directory, and says plainly when there is none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config import DEFAULT_CONFIG_TEXT, Config, load_config
from .errors import WorkspaceError
from .store import Store

if TYPE_CHECKING:
    from .audit import AuditLog

CONFIG_NAME = "keywatch.toml"
DATABASE_NAME = "keywatch.db"
KEYRINGS_DIR = "keyrings"
ENV_VARIABLE = "KEYWATCH_WORKSPACE"


@dataclass
class Workspace:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def database_path(self) -> Path:
        return self.root / DATABASE_NAME

    @property
    def keyrings_path(self) -> Path:
        return self.root / KEYRINGS_DIR

    def config(self) -> Config:
        return load_config(self.config_path)

    def store(self) -> Store:
        return Store(self.database_path)

    def audit(self, store: Store) -> "AuditLog":
        from .audit import HEAD_NAME, AuditLog  # only commands that record decisions need it

        return AuditLog(store.conn, self.root / HEAD_NAME)


def locate(option: str | None) -> Workspace:
    """The workspace named by --workspace, $KEYWATCH_WORKSPACE or the current directory."""
    if option:
        root, how = Path(option), "--workspace"
    elif os.environ.get(ENV_VARIABLE):
        root, how = Path(os.environ[ENV_VARIABLE]), f"${ENV_VARIABLE}"
    else:
        root, how = Path.cwd(), "the current directory"
    if not (root / CONFIG_NAME).is_file():
        raise WorkspaceError(
            f"no keywatch workspace at {root} ({how}): run `keywatch init {root}` "
            f"or pass --workspace DIR / set ${ENV_VARIABLE}"
        )
    return Workspace(root)


def init(root: Path) -> tuple[Workspace, bool]:
    """Create a workspace (or complete a partial one); returns it and whether anything was created."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        created = False
        workspace = Workspace(root)
        if not workspace.config_path.exists():
            workspace.config_path.write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
            created = True
        if not workspace.keyrings_path.exists():
            workspace.keyrings_path.mkdir()
            created = True
        if not workspace.database_path.exists():
            created = True
        workspace.config()  # an existing but broken config is reported now, not at first use
        workspace.store().close()
    except OSError as exc:
        raise WorkspaceError(f"cannot create a workspace at {root}: {exc.strerror}") from None
    return workspace, created
