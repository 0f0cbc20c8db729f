import ctypes.util

from django.core.checks import Warning, register

from contracts import signing


@register()
def harfbuzz_subset_check(app_configs, **kwargs):
    """WeasyPrint subsets fonts several times faster with Debian's libharfbuzz-subset0."""
    if ctypes.util.find_library("harfbuzz-subset") is None:
        return [
            Warning(
                "libharfbuzz-subset is missing: contract PDFs will render several times slower.",
                hint="Install the Debian package libharfbuzz-subset0 (apt-get install libharfbuzz-subset0).",
                id="contracts.W001",
            )
        ]
    return []


@register()
def signing_certificate_check(app_configs, **kwargs):
    """A configured seal that cannot be opened would only show up as failed signed PDFs, contract after contract."""
    if not signing.signing_configured():
        return []
    try:
        signing.load_signer()
    except signing.SigningCertificateError as error:
        return [
            Warning(
                f"Signed contracts cannot be sealed: {error}",
                hint="Check TANDEM_SIGNING_PKCS12 (a readable PKCS#12 file with the key and its certificate) and "
                "TANDEM_SIGNING_PASSPHRASE.",
                id="contracts.W002",
            )
        ]
    return []
