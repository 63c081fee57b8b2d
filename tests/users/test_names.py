"""users/names.py: what a hub username and a group name are, and where files and accounts live."""

import pytest

from users.names import (
    account_name_for,
    group_name_problem,
    home_directory_for,
    normalise_group_name,
    normalise_username,
    username_claim_problem,
    username_problem,
)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("Jane.Doe@Uni.NL", "jane.doe@uni.nl"), ("  bob\t", "bob"), ("ALICE ", "alice"), ("", "")],
)
def test_normalise_lowercases_and_trims(raw, normalised):
    assert normalise_username(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "\u212aate",  # KELVIN SIGN, which str.lower() makes the k of "kate"
        "\u0130lker",  # LATIN CAPITAL I WITH DOT ABOVE, lowercased to i and a combining dot
        "J\u00c9",  # É
        "\uff21lice",  # FULLWIDTH A
    ],
)
def test_only_a_to_z_are_lowercased_so_other_letters_are_refused(raw):
    assert normalise_username(raw) != raw.lower()
    assert username_problem(normalise_username(raw)).startswith("is not a valid hub username")


@pytest.mark.parametrize(
    "name",
    ["jane", "jane.doe@uni.nl", "j", "_svc", "0day", "a-b_c.d@e", "a" * 128],
)
def test_good_usernames_have_no_problem(name):
    assert username_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (42, "is not a string (it is int)"),
        (None, "is not a string (it is NoneType)"),
        (["jane"], "is not a string (it is list)"),
        ("", "is empty"),
        ("jane doe", "has whitespace"),
        ("jane\tdoe", "has whitespace"),
        ("staff/jane", "has a '/'"),
        ("Jane", "is not a valid hub username"),
        (".jane", "is not a valid hub username"),
        ("@jane", "is not a valid hub username"),
        ("-jane", "is not a valid hub username"),
        ("jane!", "is not a valid hub username"),
        ("jané", "is not a valid hub username"),
        ("a" * 129, "is not a valid hub username"),
    ],
)
def test_each_problem_is_named(name, problem):
    assert username_problem(name).startswith(problem)


def test_invalid_username_message_states_the_rule():
    assert username_problem("Jane") == (
        "is not a valid hub username (use at most 128 of a-z 0-9 . _ @ -, "
        "not starting with . @ or -)"
    )


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("jane.doe@uni.nl", "/home/jane_doe_uni_nl"),
        ("bob", "/home/bob"),
        ("a-b_c", "/home/a-b_c"),
    ],
)
def test_home_directory_replaces_at_and_dot(name, home):
    assert home_directory_for(name) == home


def test_account_name_is_the_home_directorys_name_when_short():
    assert account_name_for("jane.doe@uni.nl") == "jane_doe_uni_nl"
    assert account_name_for("a" * 32) == "a" * 32


@pytest.mark.parametrize("length", [33, 64, 128])
def test_long_account_names_are_shortened_to_32_characters(length):
    account = account_name_for("a" * length)
    assert len(account) == 32
    assert account.startswith("a" * 23 + "-")


def test_long_names_with_a_common_start_get_different_accounts():
    names = [f"{'x' * 40}{i}@example.org" for i in range(100)] + ["x" * 128, "x" * 127]
    accounts = {account_name_for(name) for name in names}
    assert len(accounts) == len(names)
    assert all(len(account) <= 32 for account in accounts)


def test_account_names_are_deterministic():
    name = "a.very.long.name.from.the.identity.provider@faculty.example.org"
    assert account_name_for(name) == account_name_for(name)


@pytest.mark.parametrize("name", ["jane", "jane.doe@uni.nl", "z" * 40, "y" * 128, "12345"])
def test_account_name_is_idempotent(name):
    account = account_name_for(name)
    assert account_name_for(account) == account


def test_all_digit_names_get_an_account_useradd_accepts():
    account = account_name_for("12345")
    assert not account.isdigit()
    assert account.startswith("12345-")


# Group names


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [(" Hub-Admins ", "Hub-Admins"), ("students\n", "students"), ("TEACHERS", "TEACHERS")],
)
def test_group_names_are_trimmed_but_keep_their_case(raw, normalised):
    assert normalise_group_name(raw) == normalised


@pytest.mark.parametrize(
    "name",
    [
        "students",
        "Hub-Admins",
        "course_2024+extra=1.a@b",
        "eu-west-1_AbCdEf_Google",
        "Lehrkräfte",
        "g" * 128,
    ],
)
def test_good_group_names_have_no_problem(name):
    assert group_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (7, "is not a string (it is int)"),
        ("", "is empty"),
        ("hub admins", "has whitespace"),
        ("admins\t", "has whitespace"),
        ("a,b", "has a ',' (it separates entries in the hub's lists)"),
        ("course:2024", "is not a valid group name"),
        ("staff/admins", "is not a valid group name"),
        ("[admins]", "is not a valid group name"),
        ("g" * 129, "is not a valid group name"),
    ],
)
def test_each_group_name_problem_is_named(name, problem):
    assert group_name_problem(name).startswith(problem)


def test_invalid_group_name_message_states_the_rule():
    assert group_name_problem("course:2024") == (
        "is not a valid group name (use at most 128 of letters, digits and + = . @ - _)"
    )


@pytest.mark.parametrize("claim", ["kate", "KATE", "Jane.Doe@Uni.NL"])
def test_a_claim_may_differ_from_its_hub_username_in_a_to_z_only(claim):
    assert username_claim_problem(claim) is None


@pytest.mark.parametrize(
    ("claim", "problem"),
    [
        ("\u212aate", "is not a valid hub username"),
        (" kate", "has whitespace"),
        ("kate\n", "has whitespace"),
        ("ka/te", "has a '/'"),
        (["kate"], "is not a string (it is list)"),
    ],
)
def test_a_claim_is_checked_as_sent_nothing_trimmed_or_folded(claim, problem):
    assert username_claim_problem(claim).startswith(problem)
