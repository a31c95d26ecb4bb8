"""Reading MISP's app/Config/config.php and comparing settings, shared by the settings modules.

config.php is the truth: MISP's getSetting shows a default for a setting config.php lacks
(misp-reference 0.1), so both settings modules read the file itself with PHP.
"""

import json
import re

from ansible_collections.mispops.misp.plugins.module_utils.misp_module import to_bool

MASK = "********"
# docs/misp-reference.md 0.1: settings MISP will not show over REST (plus anything that looks secret).
REDACTED = {
    "MISP.redis_password",
    "GnuPG.password",
    "SMIME.password",
    "Proxy.password",
    "Security.salt",
    "Security.encryption_key",
    "Plugin.ZeroMQ_password",
    "Plugin.ZeroMQ_redis_password",
    "SimpleBackgroundJobs.redis_password",
    "SimpleBackgroundJobs.supervisor_password",
}
SECRET_RE = re.compile(r"(password|salt|secret|encryption_key|api_?key|authkey|token)", re.IGNORECASE)
READ_CONFIG_PHP = "$config = array(); require $argv[1]; echo json_encode($config, JSON_PARTIAL_OUTPUT_ON_ERROR);"


def is_secret(name, value=None):
    """Whether a setting holds a secret. A boolean or a number never is, even when the name looks
    like one (Security.password_policy_length, Security.advanced_authkeys): masking those would
    hide real changes, and adding "16" to no_log_values would mask every 16 in the output."""
    if isinstance(value, (bool, int, float)):
        return False
    return name in REDACTED or bool(SECRET_RE.search(name.rsplit(".", 1)[-1]))


def setting_equal(current, desired):
    """Compare a stored value with the wanted one across MISP's loose typing."""
    if current is None:
        return False
    if isinstance(desired, bool) or isinstance(current, bool):
        return to_bool(current) is to_bool(desired)
    if isinstance(desired, (int, float)) or isinstance(current, (int, float)):
        try:
            return float(current) == float(desired)
        except (TypeError, ValueError):
            return False
    return str(current) == str(desired)


def lookup(config, name):
    node = config
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def read_config_php(module, path, php_binary="php"):
    """Return config.php's $config as a dict, read with one PHP call."""
    php = module.get_bin_path(php_binary, required=True)
    rc, out, err = module.run_command([php, "-r", READ_CONFIG_PHP, path])
    if rc != 0:
        module.fail_json(msg=f"Could not read {path} with {php}: {err.strip() or out.strip()}", rc=rc)
    try:
        config = json.loads(out)
    except ValueError:
        module.fail_json(msg=f"Could not parse the settings in {path} (php printed no JSON)")
    return config if isinstance(config, dict) else {}
