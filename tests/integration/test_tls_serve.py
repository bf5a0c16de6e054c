"""``serve --ssl-certfile/--ssl-keyfile`` answers over HTTPS, with HSTS, using a certificate from
``aimall-cart dev-cert``."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import httpx
from typer.testing import CliRunner

from aimall_cart import cli
from tests.integration.test_two_servers import start_servers


def test_dev_cert_writes_a_certificate_and_a_private_key_only_its_owner_reads(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(cli.app, ["dev-cert", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cert.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600


def test_serve_with_a_certificate_answers_https_with_hsts(
    database_url: str, tmp_path: Path
) -> None:
    made = CliRunner().invoke(cli.app, ["dev-cert", "--out-dir", str(tmp_path)])
    assert made.exit_code == 0, made.output
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    trusted = ssl.create_default_context(cafile=str(cert))
    options = ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    with start_servers(database_url, 1, options=options, verify=trusted) as [url]:
        response = httpx.get(f"{url}/v1/catalog/products", verify=trusted, timeout=30)
    assert url.startswith("https://")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
