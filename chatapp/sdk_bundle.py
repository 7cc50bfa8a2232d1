"""The host-page SDK as served: one ES module and one classic script, built from the sources.

``embed_static/sdk/chatframe.js`` and ``protocol.js`` are plain ES modules (unit-tested with
``node --test``, no build step). A page loads the SDK either as a module (``import { Chatframe }``)
or as a classic ``<script src>``; a classic script must not contain ``import``/``export`` and
cannot read ``import.meta``. So both forms are built here, once, by a few exact text rewrites:
each bundle is self-contained (protocol.js inlined), which also lets one Subresource Integrity
hash cover everything a versioned URL runs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROTOCOL_IMPORT = re.compile(r'^import \{[^}]*\} from "\./protocol\.js";\n', re.M)
EXPORT_KEYWORD = re.compile(r"^export (?=(?:const|function|async function|class) )", re.M)
SCRIPT_URL = "import.meta.url"
CLASSIC_SCRIPT_URL = '(document.currentScript && document.currentScript.src) || ""'


class SdkBuildError(RuntimeError):
    """The SDK sources no longer have the shape this build expects."""


@dataclass(frozen=True)
class SdkBuild:
    """Both forms of the SDK, their version token and their integrity hashes."""

    module: str
    classic: str
    version: str  # "v1.<12 hex>": content hash of both forms, for immutable URLs

    @property
    def module_integrity(self) -> str:
        return integrity(self.module)

    @property
    def classic_integrity(self) -> str:
        return integrity(self.classic)


def integrity(text: str) -> str:
    """The Subresource Integrity value (sha384) of a served file."""
    digest = hashlib.sha384(text.encode("utf-8")).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")


def _count_once(pattern: re.Pattern[str] | str, text: str, what: str) -> None:
    found = len(pattern.findall(text)) if isinstance(pattern, re.Pattern) else text.count(pattern)
    if found != 1:
        raise SdkBuildError(f"expected exactly one {what} in chatframe.js, found {found}")


def _strip_exports(source: str, name: str) -> str:
    if re.search(r"^export (?!(?:const|function|async function|class) )", source, re.M):
        raise SdkBuildError(f"{name}: only 'export const|function|class' can be bundled")
    if re.search(r"^import ", source, re.M) and name != "chatframe.js":
        raise SdkBuildError(f"{name} must not import anything")
    return EXPORT_KEYWORD.sub("", source)


def build(protocol_js: str, chatframe_js: str) -> SdkBuild:
    """Build the module and the classic script from the two source files' text."""
    _count_once(PROTOCOL_IMPORT, chatframe_js, 'import from "./protocol.js"')
    _count_once(SCRIPT_URL, chatframe_js, SCRIPT_URL)
    protocol = _strip_exports(protocol_js, "protocol.js")
    sdk = PROTOCOL_IMPORT.sub("", chatframe_js)
    if re.search(r"^import ", sdk, re.M):
        raise SdkBuildError("chatframe.js may import only from ./protocol.js")
    header = "// Chatframe host-page SDK, built from embed_static/sdk/ (protocol.js inlined).\n"
    module = f"{header}\n{protocol}\n{sdk}"
    classic_body = _strip_exports(sdk, "chatframe.js").replace(SCRIPT_URL, CLASSIC_SCRIPT_URL)
    classic = (
        f"{header}// Classic-script form: defines window.Chatframe.\n"
        f'(function () {{\n"use strict";\n{protocol}\n{classic_body}}})();\n'
    )
    digest = hashlib.sha256((module + "\0" + classic).encode("utf-8")).hexdigest()
    return SdkBuild(module=module, classic=classic, version=f"v1.{digest[:12]}")


@cache
def sdk_build(sdk_folder: Path) -> SdkBuild:
    """The build of the SDK sources in ``sdk_folder`` (read once per process)."""
    return build(
        (sdk_folder / "protocol.js").read_text(encoding="utf-8"),
        (sdk_folder / "chatframe.js").read_text(encoding="utf-8"),
    )
