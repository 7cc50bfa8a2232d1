"""The SDK's two served forms: built from the ES-module sources, both runnable as promised."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chatapp.sdk_bundle import SdkBuildError, build, integrity, sdk_build
from tests.conftest import service_unavailable

SDK = Path(__file__).resolve().parents[2] / "embed_static" / "sdk"
PROTOCOL = (SDK / "protocol.js").read_text()
CHATFRAME = (SDK / "chatframe.js").read_text()


def node() -> str:
    found = shutil.which("node")
    if not found:
        service_unavailable("Node.js", FileNotFoundError("node"))
    return str(found)


def test_the_classic_script_has_no_module_syntax() -> None:
    built = sdk_build(SDK)
    assert not re.search(r"^\s*(import|export)\b", built.classic, re.M)
    assert "import.meta" not in built.classic
    assert re.search(r"^export const Chatframe\b", built.module, re.M)
    assert not re.search(r"^import ", built.module, re.M)  # protocol.js is inlined


def test_the_classic_script_defines_window_chatframe(tmp_path: Path) -> None:
    script = tmp_path / "classic.js"
    script.write_text(sdk_build(SDK).classic)
    probe = (
        "globalThis.window = globalThis;"
        "globalThis.document = {currentScript: {src: 'https://chat.example.com/sdk/v1/chatframe.js'}};"
        f"require({str(script)!r});"
        "console.log(JSON.stringify([typeof window.Chatframe.mount, window.Chatframe.version]));"
    )
    result = subprocess.run([node(), "-e", probe], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '["function","1"]'


def test_the_module_exports_chatframe(tmp_path: Path) -> None:
    module = tmp_path / "chatframe.mjs"
    module.write_text(sdk_build(SDK).module)
    probe = (
        f"const sdk = await import({module.as_uri()!r});"
        "console.log(JSON.stringify([typeof sdk.Chatframe.mount, sdk.CHATFRAME_ORIGIN]));"
    )
    result = subprocess.run(
        [node(), "--input-type=module", "-e", probe], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '["function",null]'  # a file: URL is no web origin


def test_the_version_and_integrity_follow_the_content() -> None:
    one = build(PROTOCOL, CHATFRAME)
    other = build(PROTOCOL, CHATFRAME.replace("MIN_HEIGHT = 320", "MIN_HEIGHT = 321"))
    assert one.version != other.version and one.classic_integrity != other.classic_integrity
    assert one.classic_integrity == integrity(one.classic)
    assert one.classic_integrity.startswith("sha384-")


@pytest.mark.parametrize(
    ("protocol", "chatframe", "problem"),
    [
        (PROTOCOL, CHATFRAME.replace('from "./protocol.js"', 'from "./other.js"'), "import"),
        (PROTOCOL, CHATFRAME.replace("import.meta.url", "location.href"), "import.meta.url"),
        (PROTOCOL + "\nexport default 1;\n", CHATFRAME, "only 'export"),
        (PROTOCOL + '\nimport "./x.js";\n', CHATFRAME, "must not import"),
    ],
)
def test_sources_of_another_shape_fail_the_build_loudly(
    protocol: str, chatframe: str, problem: str
) -> None:
    with pytest.raises(SdkBuildError, match=problem):
        build(protocol, chatframe)
