"""Tests of the hub image: its accounts, spawner and configuration, and real logins."""
