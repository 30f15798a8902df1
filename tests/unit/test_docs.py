"""The man page, README, bash completion and RPM spec keep up with the code."""
import argparse
import os
import re

from vzzfs_hooks import __version__
from vzzfs_hooks.entry import cli
from vzzfs_hooks.conf import config
from vzzfs_hooks.base import errors

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(rel):
    with open(os.path.join(TOP, rel)) as f:
        return f.read()


def man_text():
    return read("man/vzzfs.8").replace("\\-", "-")


def verbs(parser=None, prefix=""):
    """(verb path, subparser) for every verb, 'template import' included."""
    parser = parser or cli.build_parser()
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                inner = verbs(sub, prefix + name + " ")
                found += inner or [(prefix + name, sub)]
    return found


def options(sub):
    return [o for a in sub._actions for o in a.option_strings if o not in ("-h", "--help")]


def test_every_verb_and_option_is_in_the_man_page():
    man = man_text()
    assert len(verbs()) >= 13
    for verb, sub in verbs():
        words = verb.split()
        assert re.search(r"^\.B[RI]? +\"?%s\b" % re.escape(words[-1] if len(words) == 1
                                                            else verb), man, re.M), verb
        for opt in options(sub):
            assert opt in man, (verb, opt)


def test_every_config_key_is_in_the_man_page_and_readme():
    man, readme = man_text(), read("README.md")
    for key in config.DEFAULTS:
        assert ".B %s\n" % key in man, key
        assert "`%s`" % key in readme, key


# the word each exit code's line carries in errors.py, the README and the man page alike
EXIT_WORDS = {"EXIT_OK": "done", "EXIT_ERROR": "other error", "EXIT_USAGE": "command line",
              "EXIT_CONFIG": "config", "EXIT_LOCKED": "locked", "EXIT_ZFS": "zfs",
              "EXIT_FS": "ext4", "EXIT_STATE": "wrong state", "EXIT_INTERRUPTED": "interrupted"}


def exit_codes():
    """{name: (number, comment)} for every EXIT_* constant, as errors.py writes it."""
    found = re.findall(r"^(EXIT_\w+) = (\d+) *(?:# *(.*))?$", read("vzzfs_hooks/base/errors.py"), re.M)
    return {name: (int(number), comment) for name, number, comment in found}


def test_every_exit_code_is_in_the_readme_and_man_page_with_its_meaning():
    codes = exit_codes()
    assert {k: v for k, v in vars(errors).items() if k.startswith("EXIT_")} == \
        {name: number for name, (number, _) in codes.items()}
    assert set(codes) == set(EXIT_WORDS), "give a new exit code its word in EXIT_WORDS"
    numbers = {number for number, _ in codes.values()}
    assert len(numbers) == len(codes), "one meaning per exit code"
    section = man_text().split(".SH EXIT STATUS", 1)[1].split(".SH", 1)[0]
    man = {int(n): text for n, text in re.findall(r"^\.B (\d+)\n(.*?)(?=^\.TP|\Z)",
                                                  section, re.M | re.S)}
    table = read("README.md").split("## Errors and exit codes", 1)[1].split("\n## ", 1)[0]
    readme = {int(n): text for n, text in re.findall(r"^\| (\d+) \| (.*) \|$", table, re.M)}
    assert set(man) == set(readme) == numbers
    for name, (number, comment) in codes.items():
        for where, text in (("errors.py", comment), ("README", readme[number]),
                            ("man page", man[number])):
            assert EXIT_WORDS[name] in text.lower(), (name, number, where, text)


def test_completion_knows_every_verb_and_option():
    text = read("completion/vzzfs.bash")
    for verb, sub in verbs():
        assert re.search(r"\b%s\b" % re.escape(verb.split()[-1]), text), verb
        for opt in options(sub):
            assert opt in text, (verb, opt)


def test_versions_agree():
    spec = read("rpm/vzzfs.spec")
    assert re.search(r"^Version: +%s$" % re.escape(__version__), spec, re.M)
    assert '"vzzfs %s"' % __version__ in read("man/vzzfs.8")


def test_spec_ships_what_the_tree_has():
    spec = read("rpm/vzzfs.spec")
    for path in ("bin/vzzfs", "hooks/vzzfs-hook", "etc/vz/vzzfs.conf",
                 "etc/vz/conf/ve-vzzfs.conf-sample", "man/vzzfs.8", "completion/vzzfs.bash",
                 "systemd/vzzfs-autosnap.service", "systemd/vzzfs-autosnap.timer",
                 "systemd/vz.service.d/vzzfs.conf", "systemd/vzzfs-reconcile.path",
                 "systemd/vzzfs-reconcile.service", "systemd/vzzfs-replicate.service",
                 "systemd/vzzfs-replicate.timer"):
        assert path in spec and os.path.exists(os.path.join(TOP, path)), path
    for action in ("premount", "mount", "umount", "postumount", "create"):
        assert os.readlink(os.path.join(TOP, "hooks", action)) == "vzzfs-hook"
        assert action in spec
