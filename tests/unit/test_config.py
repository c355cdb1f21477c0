"""Configuration: sources, precedence, placeholders, and the one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from octane.core.config import decode_plugin_block, load_config, render_effective_config
from octane.core.config_docs import render_config_reference
from octane.core.errors import ConfigError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "octane.toml"
    path.write_text(text)
    return path


def error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env=env or {})
    assert "Traceback" not in str(caught.value)
    return str(caught.value)


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.web.port == 8000 and config.web.host == "127.0.0.1"
    assert config.web.cookie_secure is True
    assert config.plugins.enabled == ["sandbox", "pdf_email"]
    assert config.data_path() == tmp_path / "octane-data"
    assert (
        config.resolved_database_url() == f"sqlite:///{tmp_path / 'octane-data' / 'octane.sqlite3'}"
    )
    assert config.redis_url is None


def test_file_then_environment_wins(tmp_path: Path) -> None:
    path = write(tmp_path, '[web]\nport = 9000\nhost = "0.0.0.0"\n[worker]\nconcurrency = 4\n')
    config = load_config(path, env={"OCTANE_WEB__PORT": "9100", "OCTANE_LOG_LEVEL": "debug"})
    assert (config.web.port, config.web.host, config.worker.concurrency) == (9100, "0.0.0.0", 4)
    assert config.log_level == "debug"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[web]\nport = 9200\n")
    assert load_config(env={"OCTANE_CONFIG": str(path)}).web.port == 9200
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(env={"OCTANE_CONFIG": str(tmp_path / "missing.toml")})


def test_list_and_boolean_environment_values(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, ""),
        env={"OCTANE_PLUGINS__ENABLED": "stripe, pdf_email", "OCTANE_WEB__COOKIE_SECURE": "no"},
    )
    assert config.plugins.enabled == ["stripe", "pdf_email"]
    assert config.web.cookie_secure is False


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = error(tmp_path, "[web]\nprot = 80\n")
    assert "web.prot: unknown key" in message
    assert "Did you mean 'port'?" in message
    assert "octane.toml" in message


def test_wrong_type_names_key_expected_type_and_value(tmp_path: Path) -> None:
    message = error(tmp_path, '[web]\nport = "eighty"\n')
    assert "web.port: expected an integer, found 'eighty' (str)" in message


def test_out_of_range_value(tmp_path: Path) -> None:
    message = error(tmp_path, "[web]\nport = 70000\n")
    assert "web.port" in message and "70000" in message and "65535" in message


def test_bad_choice(tmp_path: Path) -> None:
    message = error(tmp_path, 'log_level = "loud"\n')
    assert "log_level: expected one of 'debug', 'info', 'warning', 'error', found 'loud'" in message


def test_toml_syntax_error(tmp_path: Path) -> None:
    assert "is not valid TOML" in error(tmp_path, "data_dir = \n")


def test_environment_errors_name_the_variable(tmp_path: Path) -> None:
    message = error(tmp_path, "", {"OCTANE_WEB__PORT": "abc"})
    assert "web.port" in message and "'abc'" in message and "OCTANE_WEB__PORT" in message
    message = error(tmp_path, "", {"OCTANE_WEB__PROT": "1"})
    assert "OCTANE_WEB__PROT" in message and "Did you mean OCTANE_WEB__PORT?" in message
    # Non-configuration variables with the prefix are left alone.
    load_config(write(tmp_path, ""), env={"OCTANE_TEST_POSTGRES": "1", "OCTANE_CONFIG": ""})


def test_env_placeholder_resolves_and_is_masked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'secret_key = { "$env" = "MY_SECRET" }\n'
        'database_url = "postgresql://octane:hunter2@db:5432/octane"\n'
        '[plugins]\nenabled = ["stripe"]\n'
        '[plugins.stripe]\nsecret_key = { "$env" = "STRIPE_KEY" }\nconnect_client_id = "ca_1"\n',
    )
    secret = "s" * 40
    config = load_config(path, env={"MY_SECRET": secret, "STRIPE_KEY": "sk_live_topsecret"})
    assert config.secret_key == secret
    assert config.plugins.blocks == {
        "stripe": {"secret_key": "sk_live_topsecret", "connect_client_id": "ca_1"}
    }
    shown = render_effective_config(config)
    for leaked in (secret, "sk_live_topsecret", "hunter2"):
        assert leaked not in shown
    assert 'connect_client_id = "ca_1"' in shown
    assert "postgresql://octane:****@db:5432/octane" in shown


def test_missing_env_placeholder(tmp_path: Path) -> None:
    message = error(tmp_path, 'secret_key = { "$env" = "NOT_SET_ANYWHERE" }\n')
    assert "secret_key" in message and "NOT_SET_ANYWHERE" in message and "is not set" in message


def test_file_placeholder(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text("k" * 40 + "\n")
    config = load_config(
        write(tmp_path, f'secret_key = {{ "$file" = "{tmp_path / "key.txt"}" }}\n'), env={}
    )
    assert config.secret_key == "k" * 40
    message = error(tmp_path, 'secret_key = { "$file" = "/nonexistent/key" }\n')
    assert "secret_key: cannot read the file '/nonexistent/key'" in message


def test_a_malformed_secret_is_not_echoed(tmp_path: Path) -> None:
    message = error(tmp_path, 'secret_key = "too-short-secret"\n')
    assert "secret_key" in message and "too-short-secret" not in message


@pytest.mark.parametrize("url", ["mysql://root@db/x", "sqlite://relative.db", "http://example.com"])
def test_bad_database_url(tmp_path: Path, url: str) -> None:
    message = error(tmp_path, f'database_url = "{url}"\n')
    assert "database_url: expected a sqlite:/// or postgresql:// URL" in message


def test_database_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = load_config(write(tmp_path, 'database_url = "sqlite:///data/x.sqlite3"\n'), env={})
    assert relative.resolved_database_url() == f"sqlite:///{tmp_path / 'data' / 'x.sqlite3'}"
    pg = load_config(write(tmp_path, 'database_url = "postgres://u@h/db"\n'), env={})
    assert pg.resolved_database_url() == "postgres://u@h/db"
    with pytest.raises(ConfigError, match="redis_url"):
        load_config(write(tmp_path, 'redis_url = "http://nope"\n'), env={})


def test_plugin_blocks(tmp_path: Path) -> None:
    message = error(tmp_path, "[plugins]\nstripe = 1\n")
    assert "plugins.stripe" in message

    class Settings(msgspec.Struct, forbid_unknown_fields=True):
        region: str
        retries: int = 3

    assert decode_plugin_block("acme", {"region": "eu"}, Settings) == Settings(region="eu")
    with pytest.raises(ConfigError) as caught:
        decode_plugin_block("acme", {"region": "eu", "retry": 2}, Settings)
    assert "plugins.acme.retry: unknown key" in str(caught.value)
    assert "Did you mean 'retries'?" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        decode_plugin_block("acme", {"region": 5}, Settings)
    assert "plugins.acme.region" in str(caught.value) and "found 5 (int)" in str(caught.value)


def test_internal_fields_cannot_be_set(tmp_path: Path) -> None:
    assert "secret_paths: unknown key" in error(tmp_path, 'secret_paths = ["x"]\n')


def test_reference_documents_every_key_and_is_current() -> None:
    generated = render_config_reference()
    for key in ("data_dir", "database_url", "web.port", "worker.sweep_seconds", "plugins.enabled"):
        assert f"`{key}`" in generated
    assert DOCS.read_text() == generated, (
        "docs/configuration.md is stale: run "
        "`python -m octane.core.config_docs > docs/configuration.md`"
    )


def test_invoicing_via_a_provider_that_cannot_invoice_is_refused() -> None:
    from octane.core.errors import ValidationError
    from octane.core.vendor_settings import check_provider_invoicing

    on = {"invoicing_via_provider": True, "payment_provider": "acmepay"}
    with pytest.raises(ValidationError) as refused:
        check_provider_invoicing(on, ["email", "stripe"], field="invoicing_via_provider")
    assert refused.value.field == "invoicing_via_provider"
    assert "'acmepay' does not send invoices itself" in refused.value.message
    check_provider_invoicing(on, ["acmepay"], field="invoicing_via_provider")
    check_provider_invoicing({**on, "invoicing_via_provider": False}, [], field="x")


def test_processes_starting_together_share_one_generated_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers on a fresh data directory: the one that loses the race to create the
    key file reads the winner's key instead of crashing."""
    from octane.core import runtime

    config = load_config(env={"OCTANE_DATA_DIR": str(tmp_path)})
    first = runtime.ensure_secret_key(config)
    # The second process looked before the first one's file appeared.
    monkeypatch.setattr(Path, "exists", lambda self: False)
    assert runtime.ensure_secret_key(config) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]
