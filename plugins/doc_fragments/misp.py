# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation fragment mispops.misp.misp: the connection options of every module."""

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors misp_argument_spec() in plugins/module_utils/misp_client.py.
    DOCUMENTATION = r"""
options:
  misp_url:
    description:
      - Base URL of the MISP instance, for example V(https://misp.example.org).
      - If not set, the value of the E(MISP_URL) environment variable is used.
    type: str
    required: true
  misp_api_key:
    description:
      - API key (40 characters) of a MISP user with the rights the module needs,
        usually a site admin.
      - Sent in the C(Authorization) header. Never logged.
      - If not set, the value of the E(MISP_API_KEY) environment variable is used.
    type: str
    required: true
  validate_certs:
    description:
      - Verify the TLS certificate of O(misp_url).
      - Set to V(false) only for throw-away test instances with self-signed certificates;
        prefer O(ca_path).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificate(s) used to verify the MISP server.
    type: path
  timeout:
    description:
      - Timeout in seconds for each HTTP request.
      - Requests that cannot connect are retried up to 3 times with a short backoff (writes
        only when the connection was refused, so nothing is sent twice); HTTP errors are
        never retried.
    type: int
    default: 30
notes:
  - The modules talk to the MISP REST API with C(ansible.module_utils.urls) only; no
    Python library is needed on the host that runs them.
  - A MISP answer with HTTP 403 can mean a bad key I(or) a failed validation; the module
    reports MISP's message in RV(ignore:misp_message) and the status in RV(ignore:status).
"""

    # The attributes every module that writes shares; a module overrides only what differs.
    WRITES = r"""
attributes:
  check_mode:
    description: Reports what would change; writes nothing.
    support: full
  diff_mode:
    description: Shows only the changed keys, before and after; secrets never appear.
    support: full
  idempotent:
    description: A second run with the same options reports no change.
    support: full
"""

    READ_ONLY = r"""
attributes:
  check_mode:
    description: Runs the same in check mode (reads only).
    support: full
  diff_mode:
    description: Returns no diff.
    support: none
  idempotent:
    description: Never changes anything.
    support: full
"""
