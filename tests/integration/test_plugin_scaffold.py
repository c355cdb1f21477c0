"""``octane plugins new NAME``: a new plugin distribution that Octane accepts as it is
generated, that passes ruff, and whose own tests run; and clear refusals of a bad NAME."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from octane.core.errors import ConfigError
from octane.core.plugins import load_plugins
from octane.scaffold import TEMPLATE_FILES
from tests.integration.test_cli import octane

BIN = Path(sys.executable).parent


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    done = octane("plugins", "new", "acme_pay", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Created the plugin 'acme_pay'" in done.stdout
    return tmp_path / "octane-acme-pay"


@pytest.fixture
def package(generated: Path) -> Iterator[ModuleType]:
    sys.path.insert(0, str(generated))
    try:
        yield importlib.import_module("octane_acme_pay")
    finally:
        sys.path.remove(str(generated))
        sys.modules.pop("octane_acme_pay", None)


def test_it_writes_a_distribution_with_the_entry_point(generated: Path) -> None:
    files = sorted(str(p.relative_to(generated)) for p in generated.rglob("*") if p.is_file())
    assert files == sorted(
        d.replace("{{package}}", "octane_acme_pay") for d in TEMPLATE_FILES.values()
    )
    pyproject = (generated / "pyproject.toml").read_text()
    assert 'name = "octane-acme-pay"' in pyproject
    assert '[project.entry-points."octane.plugins"]\nacme_pay = "octane_acme_pay"' in pyproject
    contract = (generated / "tests" / "test_contract.py").read_text()
    assert "class TestAcmePayContract(PaymentProviderContract):" in contract
    assert "TODO" in contract and "{{" not in contract
    assert 'enabled = ["acme_pay"]' in (generated / "README.md").read_text()


def test_octane_accepts_the_generated_plugin_and_its_config(package: ModuleType) -> None:
    host = load_plugins(
        ["acme_pay"],
        blocks={"acme_pay": {"api_key": "k", "timeout_seconds": 3}},
        extra_plugins={"acme_pay": package},
        use_entry_points=False,
    )
    assert set(host.records["acme_pay"].hooks) == {
        "check_compatibility",
        "collect_payment",
        "plugin_config_schema",
        "reconcile_payment",
        "register_payment_providers",
    }
    assert host.provider_owner("acme_pay") == "acme_pay"
    assert host.plugin_config["acme_pay"].timeout_seconds == 3
    with pytest.raises(ConfigError) as caught:
        load_plugins(
            ["acme_pay"],
            blocks={"acme_pay": {"api_secret": "k"}},
            extra_plugins={"acme_pay": package},
            use_entry_points=False,
        )
    assert caught.value.field == "plugins.acme_pay.api_secret"


def test_the_generated_code_passes_ruff_and_its_own_tests(generated: Path) -> None:
    for command in (["check", "."], ["format", "--check", "."]):
        linted = subprocess.run(
            [str(BIN / "ruff"), *command], cwd=generated, capture_output=True, text=True
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr
    # Installed as `pip install -e .` would, without the build: a dist-info with its entry point.
    info = generated / "octane_acme_pay-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: octane-acme-pay\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[octane.plugins]\nacme_pay = octane_acme_pay\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTANE_")}
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=generated,
        env={**env, "PYTHONPATH": str(generated)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed, 4 skipped" in tested.stdout  # loads; the contract waits for its fake


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("AcmePay", "NAME must be a lowercase Python identifier"),
        ("acme-pay", "NAME must be a lowercase Python identifier"),
        ("1pay", "NAME must be a lowercase Python identifier"),
        ("class", "NAME must be a lowercase Python identifier"),
        ("stripe", "Octane's bundled plugin 'stripe'"),
        ("pricing", "Octane's essential plugin 'pricing'"),
    ],
)
def test_a_bad_name_is_refused_naming_the_argument(tmp_path: Path, name: str, says: str) -> None:
    done = octane("plugins", "new", name, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("octane: error (NAME): ") and says in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "octane-acmepay").mkdir()
    done = octane("plugins", "new", "acmepay", cwd=tmp_path)
    assert done.returncode == 1 and "octane: error (NAME): " in done.stderr
    assert "already exists" in done.stderr
    (tmp_path / "taken").mkdir()
    elsewhere = octane("plugins", "new", "acmepay", "--dir", "taken", cwd=tmp_path)
    assert elsewhere.returncode == 1 and "octane: error (--dir): " in elsewhere.stderr
    assert list((tmp_path / "taken").iterdir()) == []
