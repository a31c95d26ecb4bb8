"""Filter packages_not_installed: what the roles' apt tasks decide to skip on."""

from ansible_collections.mispops.misp.plugins.filter.packages import packages_not_installed


def test_without_package_facts_every_package_is_missing():
    assert packages_not_installed(["apache2", "chrony"], {}) == ["apache2", "chrony"]
    assert packages_not_installed(["apache2"], None) == ["apache2"]


def test_lists_only_the_packages_not_installed_in_order():
    facts = {"packages": {"apache2": [{"version": "2.4.62"}], "cron": [{"version": "3.0"}]}}
    assert packages_not_installed(["chrony", "apache2", "redis-server"], facts) == ["chrony", "redis-server"]


def test_nothing_missing_when_all_are_installed():
    facts = {"packages": {"apache2": [{"version": "2.4.62"}]}}
    assert packages_not_installed(["apache2"], facts) == []


def test_a_pinned_or_virtual_name_never_matches_so_apt_still_runs():
    facts = {"packages": {"php8.2-fpm": [{"version": "8.2.26"}]}}
    assert packages_not_installed(["php8.2-fpm=8.2.26-1", "mail-transport-agent"], facts) == [
        "php8.2-fpm=8.2.26-1",
        "mail-transport-agent",
    ]
