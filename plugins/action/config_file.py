# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mispops.misp.config_file: the text is made on the controller.

A template is rendered exactly as ansible.builtin.template renders it with its default options
(ansible-core 2.19: plugins/action/template.py), a role file is read verbatim, and the text goes
to the host as the module's ``content`` argument: one module execution per file.
"""

from __future__ import annotations

import json
import os

from ansible._internal._templating import _template_vars  # ansible-core 2.19, as template.py
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

SOURCES = ("template", "src", "content")
OPTIONS = frozenset((*SOURCES, "dest", "owner", "group", "mode", "validate"))
MODULE = "mispops.misp.config_file"

# ansible.builtin.template's defaults (jinja2.defaults plus its own trim_blocks/newline choices).
TEMPLATE_OVERRIDES = dict(
    block_start_string="{%",
    block_end_string="%}",
    variable_start_string="{{",
    variable_end_string="}}",
    comment_start_string="{#",
    comment_end_string="#}",
    trim_blocks=True,
    lstrip_blocks=False,
    newline_sequence="\n",
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = {}
        result = super().run(tmp, task_vars)
        del tmp

        args = self._task.args
        unsupported = sorted(set(args) - OPTIONS)
        if unsupported:
            raise AnsibleActionFail(
                f"config_file does not support {', '.join(unsupported)} "
                f"(supported: {', '.join(sorted(OPTIONS))}); use ansible.builtin.template or copy"
            )
        given = [name for name in SOURCES if args.get(name) is not None]
        if len(given) != 1:
            raise AnsibleActionFail("config_file needs exactly one of template, src and content")
        dest = args.get("dest")
        if not dest or not isinstance(dest, str):
            raise AnsibleActionFail("config_file needs dest, a path")
        if dest.endswith("/"):
            raise AnsibleActionFail("config_file's dest must be a file, not a directory")
        if args.get("mode") == "preserve":
            raise AnsibleActionFail("config_file does not support mode=preserve")

        source = given[0]
        if source == "template":
            content = self._render(args["template"], dest, task_vars)
        elif source == "src":
            content = self._read_file(args["src"])
        else:
            content = args["content"]
            # As ansible.builtin.copy: structured content is written as JSON.
            if isinstance(content, (dict, list)):
                content = json.dumps(content)
            elif not isinstance(content, str):
                content = to_text(content)

        module_args = dict(content=content, dest=dest)
        for name in ("owner", "group", "mode", "validate"):
            if args.get(name) is not None:
                module_args[name] = args[name]
        result.update(self._execute_module(MODULE, module_args=module_args, task_vars=task_vars))
        # The whole file in the invocation would flood -vvv output (ansible.builtin.copy hides it too).
        invocation = result.get("invocation", {}).get("module_args")
        if isinstance(invocation, dict) and invocation.get("content") is not None:
            invocation["content"] = "(content not shown)"
            invocation[source] = args[source] if source != "content" else invocation["content"]
        return result

    def _read_file(self, name):
        try:
            path = self._find_needle("files", name)
        except AnsibleError as e:
            raise AnsibleActionFail(to_text(e)) from e
        if os.path.isdir(path):
            raise AnsibleActionFail(f"config_file copies single files; {name} is a directory")
        real = self._loader.get_real_file(path, decrypt=True)
        try:
            with open(real, "rb") as handle:
                data = handle.read()
        finally:
            self._loader.cleanup_tmp_file(real)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AnsibleActionFail(f"{name} is not UTF-8 text; use ansible.builtin.copy for binary files") from e

    def _render(self, name, dest, task_vars):
        """Render like ansible.builtin.template (ansible-core 2.19) with its default options."""
        try:
            source = self._find_needle("templates", name)
        except AnsibleError as e:
            raise AnsibleActionFail(to_text(e)) from e

        template_data = trust_as_template(self._loader.get_text_file_contents(source))

        # Jinja2's search path for includes: template.py extends the task's ansible_search_path
        # in place; a copy gives the same list without changing task_vars.
        searchpath = list(task_vars.get("ansible_search_path", []))
        searchpath.extend([self._loader._basedir, os.path.dirname(source)])
        newsearchpath = []
        for path in searchpath:
            newsearchpath.append(os.path.join(path, "templates"))
            newsearchpath.append(path)

        temp_vars = task_vars.copy()
        temp_vars.update(
            _template_vars.generate_ansible_template_vars(
                path=name,
                fullpath=source,
                dest_path=dest,
                include_ansible_managed="ansible_managed" not in temp_vars,
            )
        )
        data_templar = self._templar.copy_with_new_env(searchpath=newsearchpath, available_variables=temp_vars)
        resultant = data_templar.template(template_data, escape_backslashes=False, overrides=TEMPLATE_OVERRIDES)
        if resultant is None:
            resultant = ""
        # template.py writes to_bytes(resultant): a non-string result is written as its str().
        return resultant if isinstance(resultant, str) else to_text(resultant)
