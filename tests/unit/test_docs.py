"""The man page, bash completion and RPM spec keep up with the code."""
import argparse
import os
import re

from vzzfs_hooks import __version__, cli, config, errors

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


def test_every_exit_code_is_in_the_man_page():
    section = man_text().split(".SH EXIT STATUS", 1)[1].split(".SH", 1)[0]
    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert codes == {int(c) for c in re.findall(r"^\.B (\d+)$", section, re.M)}


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
                 "etc/vz/conf/ve-vzzfs.conf-sample", "man/vzzfs.8", "completion/vzzfs.bash"):
        assert path in spec and os.path.exists(os.path.join(TOP, path)), path
    for action in ("premount", "mount", "umount", "postumount", "create"):
        assert os.readlink(os.path.join(TOP, "hooks", action)) == "vzzfs-hook"
        assert action in spec
