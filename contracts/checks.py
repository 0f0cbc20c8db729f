import ctypes.util

from django.core.checks import Warning, register


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
