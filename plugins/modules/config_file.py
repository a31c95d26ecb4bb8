#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_file
short_description: Write a small text file (a rendered template, a role file or a string) in one module run
version_added: "0.1.0"
description:
  - Writes a text file on the managed host from a Jinja2 template, a file of the role or a string,
    like M(ansible.builtin.template) and M(ansible.builtin.copy) do, but with one module execution
    per file whether it changes or not (they need two for an unchanged file and three or four for
    a changed one).
  - The action plugin renders the template (exactly as M(ansible.builtin.template) does with its
    default options) or reads the file on the controller and sends the text to the host as a
    module argument; the module compares it with the file there byte for byte, replaces the file
    atomically only when it differs, and sets owner, group and mode.
  - A file that does not change is never rewritten; only its owner, group and mode are corrected.
author:
  - mispops contributors (!UNKNOWN)
attributes:
  check_mode:
    description: Reports whether the file (or its owner, group or mode) would change, writes nothing.
    support: full
  diff_mode:
    description:
      - Shows the file before and after. A side that is not UTF-8 text or larger than 104448 bytes
        is replaced by a note, as M(ansible.builtin.template) does.
    support: full
  idempotent:
    description: Writes the file only when its bytes differ.
    support: full
options:
  template:
    description:
      - A Jinja2 template, found like the O(ansible.builtin.template#module:src) of
        M(ansible.builtin.template) (the role's C(templates/) directory first) and rendered on the
        controller with that module's defaults (C(trim_blocks), C(ansible_managed), C(template_path)...).
      - Exactly one of O(template), O(src) and O(content) is required.
    type: path
  src:
    description:
      - A text (UTF-8) file, found like the O(ansible.builtin.copy#module:src) of
        M(ansible.builtin.copy) (the role's C(files/) directory first) and copied verbatim.
      - Binary files are not supported; use M(ansible.builtin.copy).
    type: path
  content:
    description: The file's content, as the O(ansible.builtin.copy#module:content) of M(ansible.builtin.copy).
    type: str
  dest:
    description: Path of the file on the managed host. Its directory must exist.
    type: path
    required: true
  owner:
    description: Owner of the file; unchanged (or the connecting user, for a new file) when not given.
    type: str
  group:
    description: Group of the file; unchanged (or the connecting user's, for a new file) when not given.
    type: str
  mode:
    description:
      - Permissions of the file, as for M(ansible.builtin.file). Use a quoted octal string (V('0640')).
      - Unchanged when not given; a new file then gets the default permissions under the umask.
    type: raw
  validate:
    description:
      - A command run on the new file, before it replaces O(dest); C(%s) names the file, which has
        its final owner, group and mode already. The file is not replaced when the command fails.
      - Runs only when the content changes, as for M(ansible.builtin.copy).
    type: str
notes:
  - The text travels as a module argument, so it suits configuration files (up to a few hundred KB),
    not large or binary files.
  - O(dest) is replaced, never followed, when it is a symbolic link.
  - In check mode a missing directory of O(dest) is not an error (an earlier task may create it);
    the file is reported as changed, as M(ansible.builtin.copy) does.
  - Options of M(ansible.builtin.template) and M(ansible.builtin.copy) not listed here (C(backup),
    C(force), C(remote_src), C(newline_sequence)...) are not supported and make the task fail.
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Configure Redis
  mispops.misp.config_file:
    template: redis.conf.j2
    dest: /etc/redis/redis.conf
    owner: redis
    group: redis
    mode: "0640"
  notify: Restart redis

- name: Install the sudoers rule
  mispops.misp.config_file:
    src: misp-sudoers
    dest: /etc/sudoers.d/misp
    mode: "0440"
    validate: visudo -cf %s

- name: Write the version marker
  mispops.misp.config_file:
    content: "{{ misp_version }}\n"
    dest: /var/www/MISP/.deployed-version
"""

RETURN = r"""
dest:
  description: Path of the file.
  returned: always
  type: str
  sample: /etc/redis/redis.conf
checksum:
  description: SHA-1 checksum of the wanted content.
  returned: always
  type: str
  sample: 2a7a1f2c7ffbc8bb2d4a1a0ab0f37a0a73bb3c4e
content_changed:
  description: Whether the file's content was (or, in check mode, would be) replaced.
  returned: always
  type: bool
  sample: false
"""

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

# ansible-core's MAX_FILE_SIZE_FOR_DIFF default: larger files are not shown in diffs.
MAX_DIFF_SIZE = 104448

ARGUMENT_SPEC = dict(
    content=dict(type="str"),
    dest=dict(type="path", required=True),
    owner=dict(type="str"),
    group=dict(type="str"),
    mode=dict(type="raw"),
    validate=dict(type="str"),
    # Read on the controller: the action plugin sends their text as content.
    template=dict(type="path"),
    src=dict(type="path"),
)
SOURCES = ["template", "src", "content"]


def read_current(path):
    """The file's bytes, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def diff_side(data, diff, side, placeholder):
    """Put one side of the diff in ``diff``, or a note when it is too large or not text."""
    if len(data) > MAX_DIFF_SIZE:
        diff[f"{placeholder}_larger"] = MAX_DIFF_SIZE
        return
    try:
        diff[side] = data.decode("utf-8")
    except UnicodeDecodeError:
        diff[f"{placeholder}_binary"] = 1


def write_file(module, b_dest, b_content, file_args):
    """Write the content next to dest, validate it, and move it over dest."""
    b_dir = os.path.dirname(b_dest) or b"."
    fd, b_tmp = tempfile.mkstemp(prefix=b".ansible_config_file.", dir=b_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b_content)
        tmp = to_native(b_tmp, errors="surrogate_or_strict")
        if module.params["validate"]:
            tmp_args = dict(file_args, path=tmp)
            module.set_mode_if_different(tmp, tmp_args["mode"], False)
            module.set_owner_if_different(tmp, tmp_args["owner"], False)
            module.set_group_if_different(tmp, tmp_args["group"], False)
            validate = module.params["validate"]
            if "%s" not in validate:
                module.fail_json(msg=f"validate must contain %s: {validate}")
            rc, out, err = module.run_command(validate % tmp)
            if rc != 0:
                module.fail_json(
                    msg=f"failed to validate: rc:{rc} error:{err}", rc=rc, stdout=out, stderr=err, exit_status=rc
                )
        module.atomic_move(tmp, to_native(b_dest, errors="surrogate_or_strict"))
    finally:
        if os.path.lexists(b_tmp):
            os.unlink(b_tmp)


def run_module(module):
    params = module.params
    dest = params["dest"]
    b_dest = to_bytes(dest, errors="surrogate_or_strict")
    b_content = to_bytes(params["content"], errors="surrogate_or_strict")
    b_dir = os.path.dirname(b_dest) or b"."
    dir_missing = not os.path.lexists(b_dir)
    if dir_missing and not module.check_mode:
        module.fail_json(msg=f"Destination directory {to_text(b_dir)} does not exist", dest=dest)
    if not dir_missing and not os.path.isdir(b_dir):
        module.fail_json(msg=f"Destination {to_text(b_dir)} is not a directory", dest=dest)
    if os.path.isdir(b_dest):
        module.fail_json(msg=f"Destination {dest} is a directory", dest=dest)

    if dir_missing or os.path.islink(b_dest):
        # In check mode an earlier task may create the directory, as ansible.builtin.copy assumes.
        before = None  # a link is replaced by the file, like atomic_move does
    else:
        try:
            before = read_current(b_dest)
        except OSError as e:
            module.fail_json(msg=f"Cannot read {dest}: {to_native(e)}", dest=dest)
    content_changed = before != b_content

    file_args = module.load_file_common_arguments(params, path=dest)
    if content_changed and not module.check_mode:
        write_file(module, b_dest, b_content, file_args)

    changed = content_changed
    if content_changed and module.check_mode and before is None:
        pass  # the file does not exist: its attributes cannot be checked yet
    else:
        changed = module.set_fs_attributes_if_different(file_args, changed)

    result = dict(
        changed=changed,
        dest=dest,
        checksum=hashlib.sha1(b_content).hexdigest(),
        content_changed=content_changed,
    )
    if module._diff and content_changed:
        diff = dict(before_header=dest, after_header=dest)
        diff_side(before or b"", diff, "before", "dst")
        diff_side(b_content, diff, "after", "src")
        result["diff"] = diff
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[SOURCES],
        required_one_of=[SOURCES],
        supports_check_mode=True,
    )
    if module.params["content"] is None:
        module.fail_json(msg="template and src are read on the controller by the config_file action plugin")
    run_module(module)


if __name__ == "__main__":
    main()
