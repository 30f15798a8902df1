"""cli.build_parser builds only the verb on the command line (a parser per verb cost a
third of a second of every command under emulation), and everything otherwise."""
import argparse

import pytest

from vzzfs_hooks.entry import cli
from vzzfs_hooks.base.errors import UsageError


def choices(parser):
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)][0].choices


@pytest.mark.parametrize("argv", [["create", "101", "--ostemplate", "t", "--diskspace", "4G"],
                                  ["--etc-dir", "/x", "snapshot", "101"],
                                  ["template", "import", "deb"], ["backup", "101", "--to", "f"]])
def test_the_one_verb_parses_as_the_whole_parser_does(argv):
    one = cli.build_parser(argv)
    assert list(choices(one)) == [a for a in argv if a in choices(cli.build_parser())][:1]
    assert vars(one.parse_args(argv)) == vars(cli.build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [[], ["bogus"], ["--help"], ["create", "--help"], ["--version"]])
def test_no_verb_an_unknown_one_or_help_build_them_all(argv):
    assert len(choices(cli.build_parser(argv))) > 20


def test_an_unknown_verb_is_a_usage_error_naming_the_verbs():
    with pytest.raises(UsageError, match="invalid choice: 'bogus'.*'create'"):
        cli.build_parser(["bogus"]).parse_args(["bogus"])
