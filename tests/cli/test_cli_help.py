"""Every option of every command says what it does; --help reads like a command's help."""

import argparse

from defectlab.cli import build_parser


def subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, action.choices


def test_every_option_of_every_command_has_help():
    _, commands = subcommands()
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}"
               for name, sub in commands.items() for a in sub._actions
               if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert not missing, f"options without help: {missing}"


def test_help_opens_with_what_the_tool_does_and_defaults_read_as_values():
    parser, commands = subcommands()
    text = parser.format_help()
    assert "Few-shot industrial visual inspection" in text and '"""' not in text and "``" not in text
    for sub in commands.values():
        assert "(default: (" not in sub.format_help() and "(default: [" not in sub.format_help()
