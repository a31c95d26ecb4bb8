"""Shared by the testinfra verifiers of every scenario below molecule/.

Molecule runs ``pytest <scenario>/tests/test_*.py`` from the scenario's directory. pytest's rootdir
is the repository (pyproject.toml holds its settings), and pytest loads each conftest.py between
the rootdir and a test file's directory: this one, for every scenario. It puts shared/tests on
``sys.path``, so that the tests import the helpers of shared/tests/misp_verify.py, and defines
the fixtures they share.
"""

import sys
from pathlib import Path

import pytest

SHARED_TESTS = str(Path(__file__).resolve().parent / "shared" / "tests")
if SHARED_TESTS not in sys.path:
    sys.path.insert(0, SHARED_TESTS)

from misp_verify import read_admin_key


@pytest.fixture(scope="module")
def admin_key(host):
    """The MISP site admin's API key, read on the host once per test module."""
    return read_admin_key(host)
