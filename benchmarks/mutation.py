"""Mutation testing: how many small deliberate bugs the tests catch, module by module.

    nice -n 19 .venv/bin/python benchmarks/mutation.py [--record] MODULE ...
    nice -n 19 .venv/bin/python benchmarks/mutation.py [--record] --changed-since REV
    .venv/bin/python benchmarks/mutation.py --stale [--write]
    .venv/bin/python benchmarks/mutation.py --list

A MODULE is any module of ``core/``, ``workbook/`` or ``excel/``, named by its path under
``addin/bpxl`` (``core/journal``, ``core/roundtrip/queries``, ``workbook/sheet_xml``) or by its last
part when no other module has it (``journal``, ``queries``, ``sheet_xml``). ``--changed-since REV``
scores every module changed between REV and HEAD, so that a score is renewed with the change that
moves it. ``--list`` shows each module, its score and the tests that run against it.

mutmut (in the ``test`` extra) changes one operator, constant or call at a time in a module and runs
the tests that reach the changed function; a mutant the tests still pass "survived". Each module
is tested over a selection of fast tests: ``TESTS`` names it for the modules whose tests were
chosen by hand; any other module gets the test files that import it. mutmut expects the code in
``src/`` or at the top of the project, so each module runs in a scratch copy, ``.mutation/NAME/``
(git ignores it), with ``src/bpxl`` and ``tests/``: the repository itself is never changed.
Survivors are listed in ``.mutation/NAME/survivors.txt``; ``cd .mutation/NAME &&
../../.venv/bin/mutmut show MUTANT`` shows one.

``--record`` writes each module's score into the table of ``results.md`` ("Mutation scores, module
by module"), replacing its earlier row, with the commit measured: it refuses when the module or
the tests differ from that commit. ``--stale`` says which scores no longer hold: a score is stale
when the module changed more than ``STALE_AFTER`` commits after the commit it was measured on
(its last change is further than that from the measured commit); ``--write`` puts the marks into
the table. Not part of CI: a module takes from one to several minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "addin" / "bpxl"
RESULTS = ROOT / "benchmarks" / "results.md"
SCRATCH = ROOT / ".mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")
FRONTS = ("core", "workbook", "excel")  # the folders whose modules are scored

# The ribbon's round trip (pull, send changed, revert) on the fake Excel, end to end.
ROUND_TRIP = [
    *(
        f"tests/test_excel.py::{name}"
        for name in (
            "test_ribbon_round_trip_pull_edit_sort_send_changed_and_revert",
            "test_ribbon_pull_keeps_drafts_clears_stale_statuses_and_names_what_is_wrong",
            "test_a_ribbon_update_under_a_title_is_reverted_to_the_last_row",
            "test_a_second_pull_keeps_what_the_first_remembered",
        )
    ),
    *(
        f"tests/test_excel_like_excel.py::{name}"
        for name in (
            "test_amber_marks_are_on_the_edited_cells_in_any_language_wherever_the_cursor_is",
            "test_amber_marks_follow_an_id_column_that_is_not_the_first",
            "test_text_from_the_server_never_becomes_a_formula",
            "test_a_sharepoint_workbook_works_for_every_button_and_keeps_one_identity",
        )
    ),
]

# The command line's round trip, end to end in this process, but for the one that pulls, sorts and
# sends a workbook several times (20 to 50 s of openpyxl reading it: too slow per mutant).
CLI_ROUND_TRIP = [
    f"tests/test_roundtrip.py::{name}"
    for name in (
        "test_a_dry_run_of_changed_rows_says_it_only_checks",
        "test_pull_with_no_match_and_by_ids",
        "test_unknown_server_fields_are_kept_in_extra_columns",
        "test_extra_columns_go_after_every_used_column_and_merged_cell",
        "test_a_cell_emptied_since_the_pull_is_sent_as_a_clear",
        "test_a_1904_workbook_compares_plain_numbers_in_its_own_date_system",
        "test_a_plain_update_can_be_reverted_for_chosen_rows",
        "test_dates_go_round_and_back_exactly_in_any_time_zone",
        "test_a_row_sent_twice_after_one_pull_is_no_conflict",
        "test_send_changed_and_revert_keep_what_openpyxl_cannot_read",
        "test_stamps_and_conflicts_ask_500_ids_a_query_and_miss_none",
    )
]

# The streamed refresh against the openpyxl pull, called directly; but LibreOffice's reading.
STREAMED_REFRESH = [
    f"tests/test_refresh_streamed.py::{name}"
    for name in (
        "test_the_streamed_refresh_writes_what_the_openpyxl_pull_writes",
        "test_a_refresh_that_changes_nothing_leaves_the_sheet_and_the_other_parts_as_they_were",
        "test_the_memory_holds_dates_as_serials_of_the_books_date_system",
        "test_an_unsent_edit_is_kept_and_a_change_on_both_sides_is_a_conflict",
    )
]


def but(path: str, *names: str) -> list[str]:
    """The tests of ``path`` but those named (pytest's ``--deselect``)."""
    return [path, *(f"--deselect={path}::{name}" for name in names)]


# The tests that exercise a module, fast ones only: mutmut runs, per mutant, just the tests of
# this selection that reached the mutated function. Modules not named here get the test files
# that import them (``tests_for``).
TESTS = {
    "core/cells": ["tests/test_cells.py", "tests/test_records.py", "tests/test_xlsx_read.py"],
    # Without the two property tests of plan (57 s and 9 s per mutant; test_cells.py and the
    # rules one by one check each value): 106 of 615 mutants in 9 minutes with them.
    "core/records": [
        *but(
            "tests/test_records.py",
            "test_every_rejected_row_names_its_columns",
            "test_many_rows_are_planned_as_each_row_alone",
        ),
        "tests/test_cells.py",
        "tests/test_describe.py",
        "tests/test_tenant_fields.py",
        "tests/test_xlsx_read.py",
    ],
    "core/journal": ["tests/test_journal.py"],
    # Every error's words and fields, and every row's status words, Message cell and summary.
    "core/errors": ["tests/test_errors.py"],
    "core/results": ["tests/test_results.py", "tests/test_messages.py::test_counts_read_right"],
    # The guards on their own with real sockets, and under the client against scripted servers.
    "core/transport": [
        "tests/test_transport.py",
        "tests/test_client.py",
        "tests/test_hostile_server.py",
    ],
    # The profiles file, the keyring (an in-memory one, weak and failing ones) and the ribbon's
    # active profile, called directly; the command line's connect tests are too slow here.
    "core/profiles": ["tests/test_profiles.py"],
    # Its folders, the tenant URL's one spelling, the fields cache and the connections opened,
    # called directly against the sandbox.
    "core/connection": ["tests/test_connection.py"],
    # The catalogue's lookups, resemblances, template and table; the fields a tenant describes.
    "core/fields": ["tests/test_fields.py", "tests/test_spelling.py", "tests/test_describe.py"],
    # The client over loopback: its rules one by one and scripted servers (test_client.py), the
    # sandbox, a hostile server and the quirks of real tenants; but for the tests that wait out
    # real backoffs, 429s, rates and deadlines for seconds (test_client.py waits them out in
    # less); the command line's and the engine's end-to-end tests are too slow here.
    "core/client": [
        "tests/test_client.py",
        *but(
            "tests/test_sandbox_and_client.py",
            "test_a_query_answered_500_is_asked_again_and_a_write_is_not",
            "test_429_on_an_update_is_waited_out_and_slows_the_client",
            "test_a_server_that_asked_to_slow_down_is_held_to_the_published_rate",
            "test_a_sandbox_held_to_a_rate_answers_429_beyond_it_and_stores_nothing_then",
            "test_a_tenant_is_sent_at_most_15_requests_a_second",
            "test_429_is_waited_out_and_a_create_is_then_sent",
        ),
        *but(
            "tests/test_hostile_server.py",
            "test_a_create_whose_answer_timed_out_after_it_was_stored_is_maybe_stored",
            "test_an_answer_that_trickles_ends_at_the_deadline_as_maybe_stored",
            "test_a_date_without_a_zone_after_a_lost_create_ends_in_row_statuses",
            "test_headers_that_trickle_end_at_the_deadline_too",
        ),
        *but(
            "tests/test_server_quirks.py",
            "test_a_skewed_clock_never_claims_another_users_invoice",
        ),
    ],
    "core/answers": ["tests/test_answers.py"],
    # Its file on its own (tests/test_ledger.py): the pushes that keep and find creates in it run
    # the command line end to end, too slowly per mutant.
    "core/ledger": ["tests/test_ledger.py"],
    # A send with a front end in memory against the sandbox (tests/test_sending.py), and the path
    # typed; the front ends' sends (test_workbook_identity.py, test_push_cli.py, test_excel.py)
    # read and write .xlsx files or run processes, too slowly per mutant.
    "core/sending": [
        "tests/test_sending.py",
        "tests/test_workbook_identity.py::test_an_unfinished_push_is_the_workbooks_whatever_path_names_it",
    ],
    # The engine called directly, one batch at a time; the command line's end-to-end tests and
    # the lookup's (test_lookup.py) are too slow to run per mutant.
    "core/push": ["tests/test_push_engine.py"],
    # Its rules one by one, and the two looks and the clock on the fake server with short waits;
    # the end-to-end lookups (test_lookup.py, test_safety.py) wait on purpose: too slow here.
    "core/reconcile": ["tests/test_reconcile.py"],
    "core/roundtrip/sends": ["tests/test_trips.py", *CLI_ROUND_TRIP, "tests/test_tenant_fields.py"],
    "core/roundtrip/edits": ["tests/test_edits.py", "tests/test_trips.py", *CLI_ROUND_TRIP],
    "core/roundtrip/pull_memory": [
        "tests/test_pull_memory.py",
        "tests/test_trips.py",
        *CLI_ROUND_TRIP,
    ],
    "core/roundtrip/revert_memory": [
        "tests/test_revert_memory.py",
        "tests/test_trips.py",
        *CLI_ROUND_TRIP,
    ],
    "core/roundtrip/pulls": ["tests/test_pulls.py"],  # the pulls end to end: too slow here
    # Its rules on text; the end-to-end leak hunts of test_redact.py run a command per mutant.
    "core/redact": [
        "tests/test_redact.py::test_scrub_cuts_known_secrets_and_named_credentials",
        "tests/test_redact.py::test_a_secret_holding_another_is_cut_whole",
        "tests/test_redact.py::test_a_secret_echoed_json_escaped_is_cut_whole_and_nothing_else",
        "tests/test_redact.py::test_a_named_credential_keeps_its_name_and_loses_its_value",
        "tests/test_redact.py::test_short_secrets_are_cut_too",
        "tests/test_redact.py::test_a_secret_echoed_url_encoded_with_percent_20_is_cut",
        "tests/test_redact.py::test_a_secret_cut_by_the_length_of_a_message_leaves_no_part_behind",
        "tests/test_hostile_server.py::test_printable_replaces_what_no_terminal_or_file_should_get",
    ],
    # The hold's rules in this process; two pushes at once and a killed push take processes.
    "core/writer_lock": [
        f"tests/test_one_writer.py::{name}"
        for name in (
            "test_a_hold_names_its_holder_and_ends_with_the_block",
            "test_a_workbook_is_held_whatever_path_names_it",
            "test_a_hold_leaves_a_note_of_its_holder_and_takes_it_away",
            "test_a_workbook_named_twice_in_one_hold_is_held_once",
            "test_a_holder_still_writing_its_note_is_named_in_general_words",
            "test_template_force_does_not_replace_a_workbook_in_use",
        )
    ],
    "core/roundtrip/queries": [
        "tests/test_queries.py",
        "tests/test_cli_messages.py::test_a_user_the_tenant_will_not_name_is_named_by_number",
    ],
    "core/describe": ["tests/test_describe.py", "tests/test_tenant_fields.py"],
    # Its rules one by one, the look-up on the fake server; key-field pushes (test_key_field.py)
    # run the command line and processes.
    "core/key_field": ["tests/test_key_field_rules.py"],
    # Its rules on values, records and rows; the pushes that use it (test_same_invoice.py,
    # test_key_field.py) run the command line against the sandbox: 7 minutes were not enough.
    "core/create_key": [
        "tests/test_create_key.py",
        "tests/test_same_invoice.py::test_the_same_row_has_the_same_key_in_every_copy_and_twins_differ",
    ],
    # The look on the fake server called directly: what it finds, its queries, its narrowing;
    # the pushes it refuses rows of (test_safety.py, test_fault_matrix.py) run the command line.
    "core/duplicates": ["tests/test_duplicates.py"],
    # Recovery called directly on journals written as a push writes them, and on the fake server
    # for creates in flight; the commands end to end (test_attack_recover.py) and the placement
    # of 3,000 rows (2 s each, too slow per mutant) are not here.
    "core/recover": [
        *(
            f"tests/test_recover.py::{name}"
            for name in (
                "test_a_row_edited_and_moved_after_its_create_is_found_by_what_was_sent",
                "test_a_new_row_unlike_any_sent_one_is_not_taken_for_a_deleted_one",
                "test_a_row_is_never_placed_by_its_number_alone",
                "test_fields_alike_in_every_row_do_not_make_rows_alike",
                "test_an_edited_row_is_taken_for_its_record_from_three_fifths_alike_not_from_half",
            )
        ),
        "tests/test_recover_rules.py",
        "tests/test_attack_recover.py::test_rows_alike_but_for_an_edited_file_name_are_named_not_given_a_guessed_id",
        "tests/test_safety.py::test_the_recover_summary_says_only_what_it_found",
        "tests/test_safety.py::test_recover_finds_a_sent_row_moved_onto_where_an_invalid_row_was",
    ],
    # Kept, found, pruned, forgotten; the pushes that keep and settle creates are too slow here.
    "core/unsettled": ["tests/test_unsettled.py"],
    # Its rules in this process; two people pushing at once take processes (test_two_people.py).
    "core/folder_lock": ["tests/test_folder_lock.py"],
    "core/room": ["tests/test_room.py"],
    "core/settings": ["tests/test_settings.py"],
    "core/shell": [
        "tests/test_cli_messages.py::test_suggested_commands_are_quoted_for_the_users_shell",
        "tests/test_cli_messages.py::test_a_command_is_quoted_for_the_shell_of_the_computer_it_runs_on",
    ],
    # Its rules on their own; the commands that leave logs (test_run_log.py, test_excel.py) are
    # too slow per mutant (test_run_log.py alone took 12 minutes for 211 of 280 mutants).
    "core/run_log": [
        "tests/test_run_log_rules.py",
        "tests/test_run_log.py::test_only_the_newest_logs_are_kept",
    ],
    "core/inert": [
        "tests/test_inert.py",
        "tests/test_csv_and_translate.py::test_text_for_a_csv_never_runs_as_a_formula",
    ],
    "core/spelling": ["tests/test_spelling.py"],
    # Its rules on grids; the pushes through --map and --date-format (test_csv_and_translate.py)
    # run the command line per mutant.
    "core/translate": ["tests/test_translate.py"],
    # The package's rules on small zips; test_hostile_files.py's pushes and pulls are end to end.
    "workbook/package": ["tests/test_package.py"],
    # The file a push sends from and CSV files, called directly; the pushes of
    # test_csv_and_translate.py are end to end.
    "workbook/files": ["tests/test_files.py"],
    "workbook/csv_file": ["tests/test_csv_file.py", "tests/test_files.py"],
    # The add-in's modules on the fake Excel, over the ribbon's quick tests: the long sends of
    # test_excel_like_excel.py and the call count of test_excel.py take minutes per mutant.
    "excel/book_file": [
        "tests/test_book_file.py",
        "tests/test_excel_like_excel.py::test_a_sharepoint_workbook_works_for_every_button_and_keeps_one_identity",
    ],
    "excel/memory_sheet": ["tests/test_memory_sheet.py", *ROUND_TRIP],
    # Its buttons' work called directly on the fake Excel against the sandbox, and the ribbon's
    # quickest round trips: the others (ROUND_TRIP) take a minute per mutant under load.
    "excel/roundtrip": [
        "tests/test_excel_roundtrip.py",
        *(t for t in ROUND_TRIP if "amber_marks" in t or "never_becomes_a_formula" in t),
    ],
    # Its parts called directly, and the ribbon's sends that ask, write and sum up; every other
    # ribbon test goes through it too, too slowly per mutant.
    "excel/desk": [
        "tests/test_desk.py",
        *(
            f"tests/test_excel.py::{name}"
            for name in (
                "test_send_writes_the_same_statuses_as_the_cli",
                "test_the_ribbon_asks_before_creating_rows_created_before",
                "test_a_ribbon_upsert_into_production_asks_once_for_all_its_rows",
                "test_a_ribbon_update_under_a_title_is_reverted_to_the_last_row",
            )
        ),
        "tests/test_install.py::test_the_ribbon_label_is_written_for_line_input",
    ],
    "excel/udfs": [
        "tests/test_udfs.py",
        "tests/test_excel.py::test_udfs_read_live_and_answer_errors_as_text",
        "tests/test_tenant_fields.py::test_the_ribbon_uses_the_connected_tenants_fields",
    ],
    "excel/preflight": [
        "tests/test_preflight.py",
        *(
            f"tests/test_install.py::{name}"
            for name in (
                "test_preflight_runs_as_a_plain_script_as_install_ps1_calls_it",
                "test_excel_is_found_running_whatever_the_consoles_code_page",
                "test_a_tasklist_that_fails_is_no_excel",
            )
        ),
    ],
    # Its compression against oletools' reader and the specification's examples, the project
    # built and compared with the committed .xlam (test_addin_build's 300 random round trips
    # shrink a failure for minutes against a slow mutant).
    "excel/vba": [
        "tests/test_vba_compression.py",
        "tests/test_addin_build.py::test_the_committed_xlam_is_what_the_sources_build",
        "tests/test_addin_build.py::test_vba_modules_read_back_exactly_as_their_sources",
    ],
    # The worker thread, the calls into Excel it hands over and the polls, on their own; every
    # button goes through it too (test_excel.py), the long sends slowly.
    "excel/background": ["tests/test_background.py"],
    # The .xlam built and read back, the VBA project's structure, the DLLs its VBA loads.
    "excel/xlam": [
        "tests/test_addin_build.py",
        "tests/test_vba_project.py",
        "tests/test_install.py::test_the_dlls_looked_for_are_the_ones_the_add_ins_vba_loads",
    ],
    "excel/wheels": [
        "tests/test_wheels.py",
        "tests/test_install.py::test_the_wheels_folder_holds_windows_own_dependencies",
    ],
    "excel/smoke": [
        "tests/test_smoke.py",
        "tests/test_install.py::test_the_smoke_workbook_holds_each_scenario",
    ],
    # Its rules, and test_install's installs and refusals (its checks of install.ps1 and the
    # README read files the scratch copy has not).
    "excel/install": [
        "tests/test_install_rules.py",
        *(
            f"tests/test_install.py::{name}"
            for name in (
                "test_install_refuses_what_would_half_work_and_writes_nothing",
                "test_config_names_folders_by_variable_and_reads_back_as_ansi_for_juergen",
                "test_a_path_outside_the_user_folders_is_written_in_the_code_page",
                "test_a_folder_name_the_code_page_cannot_hold_is_refused_before_writing",
                "test_uninstall_keeps_journals_and_revert_data_unless_purged",
                "test_uninstall_refuses_while_excel_runs",
                "test_the_command_keeps_journals_and_says_how_to_purge",
                "test_install_refuses_without_excel_for_windows",
            )
        ),
        *(
            f"tests/test_excel.py::{name}"
            for name in (
                "test_addin_install_puts_files_where_excel_and_xlwings_look_and_uninstall_removes_them",
                "test_new_invoice_sheet_copies_the_template_in",
                "test_connect_chooses_a_profile_and_updates_the_ribbon_label",
            )
        ),
    ],
    # Backups, saves and the room they need, called directly with the disk's faults injected;
    # every push reaches them too (test_hostile_files.py, test_backups_cli.py and the pushes of
    # test_saving.py), too slowly per mutant.
    "workbook/saving": [
        f"tests/test_saving.py::{name}"
        for name in (
            "test_only_the_last_few_backups_are_kept",
            "test_a_backup_cut_short_is_never_taken_for_a_backup",
            "test_a_workbook_unchanged_since_its_last_backup_is_not_copied_again",
            "test_room_is_proved_to_the_byte_and_refused_in_words",
            "test_a_folder_that_takes_no_file_is_said_in_words",
            "test_a_backup_is_restored_where_the_workbook_is_gone",
            "test_backups_taken_within_one_second_are_numbered_in_order",
            "test_a_workbook_changed_within_its_size_and_time_is_backed_up_again",
            "test_room_needed_counts_the_backup_the_new_file_and_each_rows_results",
            "test_the_leftovers_of_a_killed_backup_and_save_go_with_the_next_ones",
            "test_a_workbook_locked_while_saved_keeps_the_results_beside_it",
            "test_a_save_that_fails_leaves_the_old_file_whole_and_says_why",
            "test_a_folder_that_is_gone_or_takes_no_backup_is_said_in_words",
            "test_a_saved_workbook_keeps_its_mode_and_owner",
            "test_a_restore_puts_back_even_the_oldest_backup_which_it_pushes_out",
        )
    ],
    # The openpyxl pull and the streamed refresh called directly on small workbooks; the command
    # line's pulls (test_pull.py, test_roundtrip.py, test_wysiwyg*.py) and LibreOffice's reading
    # of a refreshed sheet are too slow per mutant.
    "workbook/pulling": ["tests/test_pulling.py", *STREAMED_REFRESH],
    "workbook/refresh": ["tests/test_refresh.py", *STREAMED_REFRESH],
    # Every button on the fake Excel, but for the sends that take seconds on purpose (a slow
    # tenant, 10,000 rows): its own quick tests do Stop sending and a button while one runs.
    "excel/ribbon": [
        "tests/test_ribbon.py",
        *(
            f"tests/test_excel.py::{name}"
            for name in (
                "test_validate_marks_only_the_chosen_rows_and_sends_nothing",
                "test_send_writes_the_same_statuses_as_the_cli",
                "test_screen_updating_and_calculation_come_back_after_an_error",
                "test_a_sheet_without_fields_gets_a_message_saying_what_to_do",
                "test_cancel_on_the_whole_sheet_question_sends_nothing",
                "test_clear_status_empties_only_the_chosen_rows",
                "test_clear_status_on_an_unknown_row_warns_first",
                "test_connect_chooses_a_profile_and_updates_the_ribbon_label",
                "test_a_ribbon_upsert_into_production_asks_once_for_all_its_rows",
                "test_new_status_columns_go_after_merged_header_cells",
                "test_new_invoice_sheet_copies_the_template_in",
                "test_recover_last_run_marks_rows_the_crash_left_unsent",
                "test_a_ribbon_create_closed_without_saving_is_not_created_again",
                "test_a_ribbon_create_closed_without_saving_then_renamed_is_not_created_again",
                "test_a_ribbon_create_closed_without_saving_then_edited_finds_the_edited_row",
                "test_the_ribbon_asks_before_creating_rows_created_before",
                "test_a_ribbon_update_under_a_title_is_reverted_to_the_last_row",
            )
        ),
        *(
            f"tests/test_excel_like_excel.py::{name}"
            for name in (
                "test_the_ribbon_label_refresh_is_found_from_any_workbook",
                "test_connect_after_a_vba_reset_says_where_the_next_write_goes",
                "test_a_sharepoint_workbook_works_for_every_button_and_keeps_one_identity",
            )
        ),
        "tests/test_run_log.py::test_show_log_reads_the_run_log_of_the_command_line",
        "tests/test_tenant_fields.py::test_the_ribbon_uses_the_connected_tenants_fields",
        "tests/test_tenant_fields.py::test_validate_before_any_read_says_it_used_the_built_in_fields",
        "tests/test_attack_recover.py::test_the_ribbons_recover_after_a_sort_and_edits_in_excel",
        "tests/test_addin_build.py::test_every_ribbon_callback_exists_in_vba_and_every_button_in_python",
    ],
    # Reading a sheet, the rows chosen and the results written, on the fake Excel: the quick
    # ribbon tests that check them (every send reaches them, too slowly per mutant).
    "excel/range_io": [
        "tests/test_range_io.py",
        "tests/test_excel.py::test_the_status_bar_goes_by_time_not_by_batch",
        *(
            f"tests/test_excel.py::{name}"
            for name in (
                "test_row_spans_reads_the_areas_of_a_range",
                "test_selection_with_several_areas_and_filtered_rows_picks_exactly_those",
                "test_validate_marks_only_the_chosen_rows_and_sends_nothing",
                "test_clear_status_empties_only_the_chosen_rows",
                "test_clear_status_on_an_unknown_row_warns_first",
                "test_new_status_columns_go_after_merged_header_cells",
                "test_a_1904_workbook_sends_plain_numbers_in_its_own_date_system",
                "test_screen_updating_and_calculation_come_back_after_an_error",
                "test_a_sheet_without_fields_gets_a_message_saying_what_to_do",
            )
        ),
        "tests/test_excel_like_excel.py::test_rows_a_filter_leaves_scattered_are_all_found_past_255_characters_of_address",
        "tests/test_excel_like_excel.py::test_text_from_the_server_never_becomes_a_formula",
    ],
    # Its words and choices called directly, the readers' values against openpyxl's, and the
    # workbooks of test_xlsx_read.py read directly; its pushes against the sandbox are too slow.
    "workbook/reading": [
        "tests/test_reading.py",
        "tests/test_fast_reading.py",
        *(
            f"tests/test_xlsx_read.py::{name}"
            for name in (
                "test_excel_made_1904_file_reads_its_dates",
                "test_libreoffice_hidden_false_is_not_hidden",
                "test_libreoffice_hidden_true_is_hidden",
                "test_reading_shows_none_of_openpyxls_own_warnings",
            )
        ),
    ],
    # The front end's parts called directly, and through the file a push sends from; the pushes
    # (test_xlsx_read.py, test_hostile_files.py) are too slow here: 276 of 422 mutants in 12 min.
    "workbook/sheet_io": ["tests/test_sheet_io.py", "tests/test_files.py"],
    # The fast reader's values, cell by cell against openpyxl's (no test file imports it).
    "workbook/calamine_cells": ["tests/test_fast_reading.py"],
    # The new workbook's cells, sheets and report, called directly; of the pulls, the one that
    # calls it directly too (the others run the command line against the sandbox).
    "workbook/streamed_pull": [
        "tests/test_streamed_pull.py",
        "tests/test_pull.py::test_a_new_workbook_is_streamed_with_typed_cells",
    ],
    # The writer's rules in the XML (the cells, the parts around them), and files from Excel and
    # other programs; the pushes of test_producers.py and LibreOffice's reopening of the results
    # are too slow per mutant.
    "workbook/sheet_xml": [
        "tests/test_sheet_xml.py",
        "tests/test_sheet_xml_parts.py",
        "tests/test_producers.py::test_excel_files_keep_every_other_cell",
        *(
            f"tests/test_sheet_xml_cells.py::{name}"
            for name in (
                "test_an_edited_cell_keeps_its_style",
                "test_a_number_over_text_loses_the_text_type",
                "test_dates_are_written_in_the_workbooks_own_date_system",
                "test_a_1900_workbook_counts_from_1900",
                "test_rows_without_numbers_are_edited_where_they_stand",
            )
        ),
    ],
}
# Push's and reconcile's tests mostly wait (a lost create is looked up a second after its send, by
# the server's clock), and the client's wait out 429s, retries and deadlines, so a few mutants are
# tested at once at little CPU cost, and a mutant that loops (sending a batch again and again) is
# stopped by wall time, 3 times its tests' usual time (mutmut's default, 15 times, lets each such
# mutant wait minutes). The other modules compute.
CHILDREN = {
    "core/push": 4,
    "core/reconcile": 3,
    "core/client": 8,  # its tests mostly wait on scripted servers
    "core/transport": 4,
    "core/sending": 2,  # its sends wait on the sandbox and on the journal's and ledger's disk
    "core/folder_lock": 3,  # its tests wait for a reader, a beat, a process: little CPU
}
# The VBA compressor computes: a mutant that loops for ever is stopped after twice its tests'
# CPU time (mutmut doubles the multiplier), not 30 times (each such mutant held a run for minutes).
# The add-in's worker thread waits on events: a mutant that never sets one hangs, stopped after
# 3 times its tests' usual wall time.
TIMEOUT_MULTIPLIER = {
    "core/push": 3,
    "core/reconcile": 3,
    "excel/vba": 1,
    "core/client": 2,
    "excel/background": 3,
}
# ... plus these seconds before multiplying (mutmut's default, 1 s, times 3 stops a mutant of a
# function whose tests take 0.1 s after 3.3 s: a loaded machine takes longer to start pytest
# in a forked child, and its mutants were counted as killed by timeout without a test failing).
TIMEOUT_CONSTANT = {"core/client": 10}
TIMEOUT = 12 * 60  # seconds per module: a longer run is stopped and scored on what it tested
# ... but the client's 1,078 mutants take half an hour on a loaded machine, every mutant of
# `recover` runs nearly all of its tests, reading's 458 took 12 minutes for 285, the sheet
# writer's 1,600 take as long as the client's, the pull's and the refresh's 500 to 600 each
# take a workbook written and read back per test, and push's 860, 9 minutes alone, wait on the
# server's clock whatever the load.
LONGER = {
    "core/client": 50 * 60,
    "core/push": 45 * 60,
    "core/cells": 30 * 60,  # 162 of its 327 mutants in 12 minutes under a load of 24
    "core/records": 30 * 60,
    "core/journal": 30 * 60,
    "core/folder_lock": 30 * 60,
    "core/recover": 40 * 60,
    "workbook/reading": 30 * 60,
    "workbook/sheet_io": 25 * 60,
    "workbook/cell_scan": 25 * 60,  # each mutant reads odd workbooks three ways
    "workbook/calamine_cells": 25 * 60,
    "workbook/sheet_xml": 45 * 60,
    "core/sending": 60 * 60,  # each mutant runs most of its tests: about 10 s of sends alone
    "excel/vba": 25 * 60,  # 223 mutants, most of them in the compressor's loops
    "workbook/pulling": 40 * 60,
    "workbook/refresh": 40 * 60,
    "excel/ribbon": 40 * 60,  # every button's tests: a few seconds per mutant
}
STALE_AFTER = 3  # commits between the one measured and the module's last change
TABLE_START = "<!-- mutation scores: benchmarks/mutation.py --record and --stale --write -->"
TABLE_END = "<!-- end of mutation scores -->"
COLUMNS = ["module", "mutants", "killed", "survived", "no tests", "score", "commit", "stale"]


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


# -- which modules, which tests -------------------------------------------------------------------


def modules() -> list[str]:
    """Every module of core/, workbook/ and excel/, as its path under addin/bpxl, no suffix."""
    return sorted(
        path.relative_to(PACKAGE).with_suffix("").as_posix()
        for front in FRONTS
        for path in (PACKAGE / front).rglob("*.py")
        if path.name != "__init__.py"
    )


def resolve(name: str) -> str:
    """``core/journal`` for ``journal`` (or ``core/journal``, or ``core/journal.py``)."""
    known = modules()
    name = name.removesuffix(".py").removeprefix("addin/bpxl/").replace(".", "/")
    if name in known:
        return name
    matches = [m for m in known if m.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    found = ", ".join(matches) if matches else "none"
    raise SystemExit(f"{name}: not one module of {', '.join(FRONTS)} (matches: {found})")


def changed_since(revision: str) -> list[str]:
    """The modules whose file changed between ``revision`` and HEAD (and still exist)."""
    if not git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"):
        raise SystemExit(f"{revision}: no such commit")
    paths = git("diff", "--name-only", f"{revision}...HEAD", "--", "addin/bpxl").splitlines()
    known = set(modules())
    named = (p.removeprefix("addin/bpxl/").removesuffix(".py") for p in paths if p.endswith(".py"))
    return sorted(set(named) & known)


def tests_for(module: str) -> list[str]:
    """The hand-chosen tests of ``module``, else every test file that imports it."""
    if module in TESTS:
        return TESTS[module]
    parent, _, leaf = module.rpartition("/")
    dotted = f"bpxl.{module.replace('/', '.')}"
    imports = re.compile(
        rf"(\b{re.escape(dotted)}\b)|"
        rf"from\s+bpxl\.{re.escape(parent.replace('/', '.'))}\s+import\s+"
        rf"(\([^)]*\b{leaf}\b[^)]*\)|[^\n(]*\b{leaf}\b)"
    )
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").glob("test_*.py")
        if imports.search(path.read_text(encoding="utf-8"))
    )


def scratch_name(module: str) -> str:
    return module.replace("/", ".")


# -- a run ----------------------------------------------------------------------------------------


def prepare(module: str, tests: list[str]) -> Path:
    """A fresh scratch project for ``module``: the package under src/, the tests, the config."""
    folder = SCRATCH / scratch_name(module)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "src").mkdir(parents=True)
    shutil.copytree(PACKAGE, folder / "src" / "bpxl")
    # The add-in's VBA sources and its built .xlam, which excel/xlam.py finds beside the package.
    shutil.copytree(PACKAGE.parent / "xlam", folder / "src" / "xlam")
    shutil.copy2(PACKAGE.parent / "bpxl.xlam", folder / "src" / "bpxl.xlam")
    shutil.copytree(ROOT / "tests", folder / "tests")
    (folder / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths=src/bpxl\n"
        f"timeout_multiplier={TIMEOUT_MULTIPLIER.get(module, 15)}\n"
        f"timeout_constant={TIMEOUT_CONSTANT.get(module, 1)}\n"
        f"only_mutate=src/bpxl/{module}.py\n"
        # mutmut runs the tests in mutants/, a copy of the source paths: the add-in's sources too.
        "also_copy=\n    src/xlam\n    src/bpxl.xlam\n"
        "pytest_add_cli_args_test_selection=\n    " + "\n    ".join(tests) + "\n",
        encoding="utf-8",
    )
    return folder


@dataclass
class Score:
    module: str
    mutants: int
    tested: int
    killed: int
    survived: int
    no_tests: int
    minutes: float
    stopped: bool

    @property
    def score(self) -> str:
        return f"{100 * self.killed / self.tested:.0f}%" if self.tested else "-"

    def mutants_text(self) -> str:
        if self.tested == self.mutants:
            return str(self.mutants)
        return f"{self.mutants} ({self.tested} tested, then stopped)"


def mutate(module: str) -> Score:
    tests = tests_for(module)
    if not tests:
        raise SystemExit(f"{module}: no test file imports it; name its tests in TESTS")
    folder = prepare(module, tests)
    began = time.monotonic()
    with (folder / "run.log").open("w", encoding="utf-8") as log:
        run = subprocess.Popen(
            [str(MUTMUT), "run", "--max-children", str(CHILDREN.get(module, 1))],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its forked test runs end with it
        )
        try:
            stopped = run.wait(timeout=LONGER.get(module, TIMEOUT)) != 0
        except subprocess.TimeoutExpired:
            stopped = True  # the mutants tested so far still count; the rest are reported
        finally:  # also when this script is stopped: the run must not go on without it
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGTERM)
                run.wait()
    subprocess.run([str(MUTMUT), "export-cicd-stats"], cwd=folder, check=True, capture_output=True)
    stats = json.loads((folder / "mutants" / "mutmut-cicd-stats.json").read_text())
    listed = subprocess.run(
        [str(MUTMUT), "results"], cwd=folder, check=True, capture_output=True, text=True
    ).stdout
    survivors = [
        line.split(":")[0].strip()
        for line in listed.splitlines()
        if line.rstrip().endswith(": survived")
    ]
    (folder / "survivors.txt").write_text("\n".join(survivors) + "\n", encoding="utf-8")
    killed = int(stats["killed"]) + int(stats["timeout"])
    return Score(
        module,
        mutants=int(stats["total"]) - int(stats["skipped"]),
        tested=killed + int(stats["survived"]) + int(stats["no_tests"]),
        killed=killed,
        survived=int(stats["survived"]),
        no_tests=int(stats["no_tests"]),
        minutes=(time.monotonic() - began) / 60,
        stopped=stopped,
    )


# -- the table in results.md ----------------------------------------------------------------------


def read_table() -> dict[str, dict[str, str]]:
    """The rows of the scores table, by module."""
    text = RESULTS.read_text(encoding="utf-8")
    if TABLE_START not in text:
        return {}
    body = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    rows = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == len(COLUMNS) and cells[0] not in ("module", "") and "---" not in line:
            rows[cells[0].strip("`")] = dict(zip(COLUMNS, cells, strict=True))
    return rows


def write_table(rows: dict[str, dict[str, str]]) -> None:
    lines = [
        TABLE_START,
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *(
            "| " + " | ".join(f"`{m}`" if c == "module" else row[c] for c in COLUMNS) + " |"
            for m, row in sorted(rows.items())
        ),
        "",
        TABLE_END,
    ]
    text = RESULTS.read_text(encoding="utf-8")
    if TABLE_START in text:
        before, rest = text.split(TABLE_START, 1)
        after = rest.split(TABLE_END, 1)[1]
        text = before + "\n".join(lines) + after
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def staleness(module: str, commit: str) -> tuple[str, int | None]:
    """The module's last change, and how many commits after ``commit`` it came (None: the
    commit is not in this repository)."""
    path = f"addin/bpxl/{module}.py"
    last = git("log", "-1", "--format=%h", "--", path)
    if not git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"):
        return last, None
    if not last or _ancestor(last, commit):
        return last, 0  # not changed since it was measured
    return last, int(git("rev-list", "--count", f"{commit}..{last}") or 0)


def _ancestor(older: str, newer: str) -> bool:
    done = subprocess.run(["git", "merge-base", "--is-ancestor", older, newer], cwd=ROOT)
    return done.returncode == 0


def stale_mark(module: str, commit: str) -> str:
    last, after = staleness(module, commit)
    if after is None:
        return f"stale (commit {commit} unknown)"
    if after > STALE_AFTER:
        return f"stale: changed {after} commits later ({last})"
    return "no"


def record(scores: list[Score], commit: str) -> None:
    """Each score into the table, with the commit measured."""
    rows = read_table()
    for s in scores:
        rows[s.module] = {
            "module": s.module,
            "mutants": s.mutants_text(),
            "killed": str(s.killed),
            "survived": str(s.survived),
            "no tests": str(s.no_tests),
            "score": f"**{s.score}**" if s.tested == s.mutants else s.score,
            "commit": commit,
            "stale": "no",
        }
    write_table(rows)


def refuse_uncommitted(selected: list[str]) -> None:
    """A score names the commit measured: the module and the tests must be that commit's."""
    paths = [f"addin/bpxl/{m}.py" for m in selected] + ["tests"]
    dirty = git("status", "--porcelain", "--", *paths)
    if dirty:
        raise SystemExit(f"--record: commit these first, the score must name a commit:\n{dirty}")


# -- the command ----------------------------------------------------------------------------------


def show_stale(write: bool) -> None:
    rows = read_table()
    for module in modules():
        row = rows.get(module)
        if row is None:
            print(f"{module}: no score")
            continue
        mark = stale_mark(module, row["commit"])
        print(f"{module}: {row['score']} at {row['commit']}: {mark}")
        row["stale"] = mark
    if write:
        write_table(rows)


def show_list() -> None:
    rows = read_table()
    for module in modules():
        row = rows.get(module)
        score = f"{row['score']} at {row['commit']}" if row else "no score"
        print(f"{module}: {score}; tests: {' '.join(tests_for(module)) or 'none'}")


def main() -> None:
    args = sys.argv[1:]
    if "--stale" in args:
        show_stale("--write" in args)
        return
    if "--list" in args:
        show_list()
        return
    keep = "--record" in args
    args = [a for a in args if a != "--record"]
    if "--changed-since" in args:
        at = args.index("--changed-since")
        if at + 1 >= len(args):
            raise SystemExit("--changed-since needs a commit, e.g. --changed-since main~5")
        selected = changed_since(args[at + 1])
        del args[at : at + 2]
        if not selected:
            print(f"No module of {', '.join(FRONTS)} changed since then.")
    else:
        selected = []
    selected += [resolve(a) for a in args]
    if not selected and "--changed-since" not in sys.argv:
        raise SystemExit(__doc__)
    selected = list(dict.fromkeys(selected))
    if keep:
        refuse_uncommitted(selected)
    measured = git("rev-parse", "--short", "HEAD")  # the code is copied now: this commit's
    os.environ.pop("MUTANT_UNDER_TEST", None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # so that `finally` runs
    scores = []
    for module in selected:
        s = mutate(module)
        print(
            f"{s.module}: mutants {s.mutants_text()}, killed {s.killed}, survived {s.survived}, "
            f"no tests {s.no_tests}, score {s.score}, {s.minutes:.1f} min"
            + (" (stopped)" if s.stopped else ""),
            flush=True,
        )
        scores.append(s)
    if keep and scores:
        record(scores, measured)


if __name__ == "__main__":
    main()
