#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: misp_host_secrets
short_description: Keep generated or given secrets in root-only files on the MISP host
version_added: "0.1.0"
description:
  - Keeps each secret (a password, a passphrase, an API key) in a file of its own on the host and
    returns the values in effect, for any number of files in one task. It does what a directory
    task, a C(copy) with C(force) and a C(slurp) per file did, in one module call.
  - An entry with a O(secrets[].value) makes its file hold exactly that value, so changing the
    value in the inventory rotates the secret. An entry without one gets a random value generated
    once, when the file is missing; an existing file is never replaced.
  - An entry with O(secrets[].create=false) only reads a file that something else keeps (another
    role), and fails naming the file when it is missing.
  - Values are read stripped of surrounding whitespace, so a file written by hand with a final
    newline reads the same as one written by C(copy content=...). New files are written without a
    final newline.
  - Files are written atomically (a temporary file in the same directory, created under umask
    C(077), then renamed over the file). A missing directory is created; an existing one is left
    as it is. Existing files get O(owner), O(group) and O(mode) when theirs differ.
  - Runs on the host, as root in the roles; needs no MISP.
  - The result holds the secrets, in clear text. Tasks must set C(no_log) to V(true).
author:
  - mispops contributors (!UNKNOWN)
attributes:
  check_mode:
    description:
      - Touches nothing and reports what would be written. The values returned are those that
        would be in effect, a new random value for a missing file.
    support: full
  diff_mode:
    description:
      - Shows each file or directory that would be created or changed with its state, owner, group
        and mode; the contents are never shown, only whether they change (V((secret)) before,
        V((new secret)) after).
    support: full
  idempotent:
    description:
      - A second run reports no change, keeps the generated values and writes nothing.
    support: full
options:
  secrets:
    description: The files to keep or read, one entry per file.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file. A path may be listed only once.
        type: path
        required: true
      value:
        description:
          - The value the file must hold. The file is (re)written when its content differs.
          - Empty (the default) to generate a value when the file is missing and keep the file as
            it is otherwise.
        type: str
        default: ""
      length:
        description: Length of a generated value.
        type: int
        default: 32
      chars:
        description: Alphabet of a generated value (each character drawn with C(secrets.choice)).
        type: str
        default: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789
      create:
        description:
          - V(false) to only read the file, which must exist; it is neither written nor has its
            owner or mode changed, and O(secrets[].value) must be empty.
        type: bool
        default: true
      missing_hint:
        description:
          - Appended to the failure message when a file read with O(secrets[].create=false) is
            missing, to say how to get it (which role writes it, which variable replaces it).
        type: str
        default: ""
  owner:
    description: Owner (name or number) of the files written and of the directories created.
    type: str
    default: root
  group:
    description: Group (name or number) of the files written and of the directories created.
    type: str
    default: root
  mode:
    description:
      - Octal mode of the files, as a string (V("0600")); an integer is taken as the mode itself,
        as YAML reads an unquoted V(0600). Symbolic modes are not supported.
    type: raw
    default: "0600"
  directory_mode:
    description:
      - Octal mode of the directories the module creates (missing parents of the files). An
        existing directory keeps its owner and mode.
    type: raw
    default: "0700"
notes:
  - The values returned are the secrets; AnsibleModule would mask a given O(secrets[].value)
    wherever it appears in the result, so the module takes them off its no-log list after masking
    its own arguments (the C(invocation) shows V(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER)).
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.slurp
"""

EXAMPLES = r"""
- name: Keep the database password on the host (generated once, or the vault's)
  mispops.misp.misp_host_secrets:
    secrets:
      - path: /root/.misp/db_password
        value: "{{ vault_db_password | default('') }}"
  register: db_secret
  no_log: true

- name: Generate two keys and read a password another role keeps
  mispops.misp.misp_host_secrets:
    secrets:
      - path: /root/.misp/admin_api_key
        length: 40
      - path: /root/.misp/encryption_key
      - path: /root/.misp/redis_password
        create: false
        missing_hint: run role misp_redis first
  register: app_secrets
  no_log: true

- name: Use a value
  ansible.builtin.set_fact:
    api_key: "{{ app_secrets.secrets['/root/.misp/admin_api_key'] }}"
  no_log: true
"""

RETURN = r"""
secrets:
  description:
    - The value in effect of every file, by path (surrounding whitespace stripped; a given
      O(secrets[].value) as given). In check mode, the values that would be in effect.
  returned: success
  type: dict
  sample: {/root/.misp/db_password: Xy7...}
changed_paths:
  description: Files and directories written, created or whose owner or mode was fixed (in check mode, would be).
  returned: success
  type: list
  elements: str
  sample: [/root/.misp, /root/.misp/db_password]
"""

import contextlib
import grp
import os
import pwd
import re
import secrets as secrets_random
import stat
import string
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.parameters import remove_values

DEFAULT_CHARS = string.ascii_letters + string.digits

ARGUMENT_SPEC = dict(
    secrets=dict(
        type="list",
        elements="dict",
        required=True,
        options=dict(
            path=dict(type="path", required=True),
            value=dict(type="str", default="", no_log=True),
            length=dict(type="int", default=32),
            chars=dict(type="str", default=DEFAULT_CHARS),
            create=dict(type="bool", default=True),
            missing_hint=dict(type="str", default=""),
        ),
    ),
    owner=dict(type="str", default="root"),
    group=dict(type="str", default="root"),
    mode=dict(type="raw", default="0600"),
    directory_mode=dict(type="raw", default="0700"),
)


class SecretsError(Exception):
    """A failure reported as the module's message."""


def parse_mode(value, name):
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    elif isinstance(value, str) and re.fullmatch(r"[0-7]{3,4}", value):
        mode = int(value, 8)
    else:
        raise SecretsError(f"{name} must be an octal mode such as '0600', not {value!r}")
    if mode > 0o7777:
        raise SecretsError(f"{name} must be an octal mode such as '0600', not {value!r}")
    return mode


def resolve_id(name, kind):
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid if kind == "owner" else grp.getgrnam(name).gr_gid
    except KeyError:
        raise SecretsError(f"{kind} '{name}' does not exist on this host") from None


def id_name(number, kind):
    try:
        return pwd.getpwuid(number).pw_name if kind == "owner" else grp.getgrgid(number).gr_name
    except KeyError:
        return str(number)


def missing_dirs(directory):
    """The directories to create, outermost first, for ``directory`` to exist."""
    missing = []
    while directory and not os.path.isdir(directory):
        if os.path.lexists(directory):
            raise SecretsError(f"{directory} exists but is not a directory")
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return list(reversed(missing))


def read_file(path):
    """The file's bytes, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise SecretsError(f"{path} is a directory, not a file") from None
    except OSError as e:
        raise SecretsError(f"cannot read {path}: {e.strerror}") from None


def as_text(path, data):
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretsError(f"{path} does not hold UTF-8 text") from None


def write_atomically(path, data, uid, gid, mode):
    """Write ``data`` to a temporary file next to ``path`` (umask 077), set owner and mode, rename."""
    directory = os.path.dirname(path)
    old_umask = os.umask(0o077)
    try:
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    finally:
        os.umask(old_umask)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if os.fstat(handle.fileno()).st_uid != uid or os.fstat(handle.fileno()).st_gid != gid:
                os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def state_text(kind, uid=None, gid=None, mode=None, content=None):
    """Diff text of a file or directory: never its content, only whether it is a secret."""
    if kind == "absent":
        return "state: absent\n"
    text = f"state: {kind}\n"
    if content:
        text += f"content: {content}\n"
    return text + f"owner: {id_name(uid, 'owner')}\ngroup: {id_name(gid, 'group')}\nmode: {mode:04o}\n"


class HostSecrets:
    def __init__(self, module):
        self.module = module
        params = module.params
        self.entries = params["secrets"]
        self.uid = resolve_id(str(params["owner"]), "owner")
        self.gid = resolve_id(str(params["group"]), "group")
        self.mode = parse_mode(params["mode"], "mode")
        self.directory_mode = parse_mode(params["directory_mode"], "directory_mode")
        self.diff = []

    def plan(self):
        """Read every file and decide what to write; fails before anything is written."""
        values, files, directories, seen = {}, [], [], set()
        for entry in self.entries:
            path = entry["path"]
            if not os.path.isabs(path):
                raise SecretsError(f"{path}: the path must be absolute")
            if path in seen:
                raise SecretsError(f"{path} is listed twice")
            seen.add(path)
            value = entry["value"] or ""
            if not entry["create"]:
                if value:
                    raise SecretsError(f"{path}: value is given but create is false (read only)")
                data = read_file(path)
                if data is None:
                    hint = f": {entry['missing_hint']}" if entry["missing_hint"] else ""
                    raise SecretsError(f"{path} is missing; it is read here, not created{hint}")
                values[path] = as_text(path, data)
                continue
            if entry["length"] < 1 or not entry["chars"]:
                raise SecretsError(f"{path}: length must be at least 1 and chars must not be empty")
            data = read_file(path)
            if value:
                values[path] = value
                write = data != value.encode("utf-8")
            elif data is None:
                values[path] = "".join(secrets_random.choice(entry["chars"]) for _ in range(entry["length"]))
                write = True
            else:
                values[path] = as_text(path, data)
                write = False
            for directory in missing_dirs(os.path.dirname(path)):
                if directory not in directories:
                    directories.append(directory)
            current = None if data is None else os.stat(path)
            fix = current is not None and (
                (current.st_uid, current.st_gid, stat.S_IMODE(current.st_mode)) != (self.uid, self.gid, self.mode)
            )
            if write or fix:
                files.append((path, values[path] if write else None, current))
        return values, files, directories

    def apply(self, files, directories):
        for directory in directories:
            self.diff.append(
                {
                    "before_header": directory,
                    "after_header": directory,
                    "before": state_text("absent"),
                    "after": state_text("directory", self.uid, self.gid, self.directory_mode),
                }
            )
            if not self.module.check_mode:
                os.mkdir(directory, 0o700)
                os.chown(directory, self.uid, self.gid)
                os.chmod(directory, self.directory_mode)
        for path, value, current in files:
            if current is None:
                before = state_text("absent")
            else:
                before = state_text("file", current.st_uid, current.st_gid, stat.S_IMODE(current.st_mode), "(secret)")
            content = "(new secret)" if value is not None else "(secret)"
            after = state_text("file", self.uid, self.gid, self.mode, content)
            self.diff.append({"before_header": path, "after_header": path, "before": before, "after": after})
            if self.module.check_mode:
                continue
            if value is not None:
                write_atomically(path, value.encode("utf-8"), self.uid, self.gid, self.mode)
            else:
                if (current.st_uid, current.st_gid) != (self.uid, self.gid):
                    os.chown(path, self.uid, self.gid)
                os.chmod(path, self.mode)

    def run(self):
        values, files, directories = self.plan()
        try:
            self.apply(files, directories)
        except OSError as e:
            raise SecretsError(f"cannot write {e.filename or 'a secret'}: {e.strerror}") from None
        changed_paths = directories + [path for path, _value, _current in files]
        result = dict(changed=bool(changed_paths), changed_paths=changed_paths, secrets=values)
        if getattr(self.module, "_diff", False) and changed_paths:
            result["diff"] = self.diff
        return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = HostSecrets(module).run()
    except SecretsError as e:
        module.fail_json(msg=str(e))
    # The values are the result: no_log on `value` keeps them out of the logged and echoed
    # arguments, but AnsibleModule would also mask them in `secrets`. Mask the arguments here and
    # let the values through; the task's no_log hides the result.
    result["invocation"] = {"module_args": remove_values(module.params, module.no_log_values)}
    module.no_log_values.difference_update(result["secrets"].values())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
