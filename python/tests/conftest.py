"""Shared fixtures of the vitcl Python tests: where the repository's fixtures and the `vitcl`
program are, which backends this build has, and a rule that a skipped test fails the run."""

import os
import pathlib

import pytest

import vitcl

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
MODELS = FIXTURES / "models"
DEMO = FIXTURES / "demo"
IMAGES = FIXTURES / "images"
PLUGIN_DIR = pathlib.Path(vitcl.__file__).resolve().parent / "plugins"


def built_backends():
    """The plugin names this package was built with: one plugin file per backend in the
    package's plugins folder (tests check that every one of them loads)."""
    names = []
    for f in sorted(PLUGIN_DIR.glob("vitcl_*.so")):
        names.append(f.name[len("vitcl_"):-len(".so")])
    return names


BACKENDS = built_backends()


def cli_path():
    """The `vitcl` program to compare against: $VITCL_CLI, else the repository's build/."""
    return pathlib.Path(os.environ.get("VITCL_CLI", REPO / "build" / "host" / "cli" / "vitcl"))


def sample_images():
    """Every decodable sample image of tests/fixtures/images/src, in name order."""
    return sorted(str(p) for p in (IMAGES / "src").iterdir() if p.suffix in (".png", ".jpg"))


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    # A skipped test is a check that did not run: the suite must not pass with one.
    if _skipped and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped)} test(s) skipped; this suite allows none: "
            + ", ".join(_skipped), red=True)
