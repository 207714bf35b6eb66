//! The store conformance suite: every method of the `Store` trait, checked through
//! `&dyn Store` only, against each backend. A backend joins with one line at the bottom
//! (`conformance!(NAME, fixtures::backends::NAME)`): its function returns a fresh, empty
//! database, and every contract below runs on its own one.
//!
//! The contracts are what callers rely on: ids, statuses, the order and limits of listings,
//! filters, idempotence, one winner among racing writers, and what each call leaves
//! unchanged. Each is named after what it checks.
//!
//! Coverage: each method of the trait and the contracts that call it (checked by
//! `coverage_table_names_every_store_method_and_contract`).
//!
//! | method | contracts |
//! |---|---|
//! | create_run | runs::create_run_records_the_run_and_its_pending_steps_in_order, runs::create_run_queued_has_no_start_and_keeps_not_before, runs::create_run_of_a_rerun_keeps_steps_as_succeeded |
//! | set_run_status | gates::set_run_status_final_withdraws_the_notices_of_its_gates, runs::set_run_status_sets_start_once_and_end_when_final, runs::set_run_status_final_cancels_the_steps_that_never_started, runs::set_run_status_interrupted_ends_running_steps_and_attempts |
//! | start_attempt | runs::start_attempt_marks_the_step_running_and_counts_attempts |
//! | set_attempt_pid | runs::set_attempt_pid_records_the_process_id, runs::writes_naming_an_unknown_run_change_nothing |
//! | finish_attempt | runs::finish_attempt_records_how_it_ended_and_the_step_status, runs::finish_attempt_waiting_retry_leaves_the_step_open, runs::writes_naming_an_unknown_run_change_nothing |
//! | end_step | gates::end_step_withdraws_the_notices_of_a_gate_that_ended_undecided, runs::end_step_ends_a_step_that_never_ran, runs::writes_commit_in_the_order_they_were_called |
//! | list_runs | runs::list_runs_newest_first_filtered_and_limited |
//! | get_run | runs::get_run_of_an_unknown_id_is_none (and most contracts of runs) |
//! | get_run_row | runs::get_run_row_is_the_runs_row_of_get_run_without_steps |
//! | succeeded | runs::succeeded_only_for_a_succeeded_run_of_that_job_and_day |
//! | defer_run | runs::defer_run_sets_when_a_queued_run_may_start, runs::writes_naming_an_unknown_run_change_nothing |
//! | active_runs | runs::active_runs_lists_queued_and_running_oldest_first |
//! | claim_run | runs::claim_run_takes_a_queued_run_once, runs::claim_run_has_one_winner_among_racing_daemons |
//! | take_over | runs::take_over_moves_a_running_run_from_its_gone_owner, runs::take_over_has_one_winner_among_racing_daemons |
//! | request_cancel | runs::request_cancel_cancels_a_queued_run_at_once, runs::request_cancel_of_a_running_run_asks_its_owner, runs::request_cancel_of_an_ended_or_unknown_run_changes_nothing |
//! | cancel_requested | runs::cancel_requested_is_none_until_someone_asks |
//! | record_slots | schedule::record_slots_returns_the_run_each_slot_made, schedule::record_slots_twice_makes_no_second_run, schedule::record_slots_racing_daemons_make_one_run_per_slot |
//! | watermarks | schedule::watermarks_only_move_forward |
//! | list_slots | schedule::list_slots_newest_first_filtered_and_limited |
//! | hold | schedule::hold_is_taken_once_until_released |
//! | release | schedule::release_frees_a_held_job_once |
//! | holds | schedule::holds_lists_every_held_job_by_name |
//! | register_daemon | schedule::register_daemon_returns_new_ids_listed_newest_first |
//! | heartbeat | schedule::heartbeat_moves_the_beat_and_keeps_the_stop |
//! | daemons | schedule::register_daemon_returns_new_ids_listed_newest_first, schedule::heartbeat_moves_the_beat_and_keeps_the_stop |
//! | open_incident | incidents::open_incident_opens_with_its_first_event, incidents::open_incident_deduplicates_by_job_and_failure_class_until_resolved, incidents::open_incident_counts_occurrences_given, incidents::open_incident_raises_severity_and_shortens_deadline, incidents::open_incident_racing_failures_open_one_incident |
//! | list_incidents | incidents::list_incidents_newest_first_filtered_and_limited |
//! | get_incident | incidents::get_incident_of_an_unknown_id_is_none (and every contract of incidents) |
//! | change_incident | incidents::change_incident_acknowledges_then_resolves_once, incidents::change_incident_resolves_straight_from_open, incidents::change_incident_refused_writes_nothing, incidents::change_incident_withdraws_the_messages_nobody_needs, incidents::change_incident_has_one_winner_among_racing_operators, incidents::change_incident_completes_one_unyo_resolved |
//! | job_recovered | incidents::job_recovered_resolves_open_incidents_of_earlier_runs, incidents::job_recovered_without_resolve_only_notes, incidents::job_recovered_withdraws_the_messages_of_what_it_resolves, checks::job_recovered_leaves_a_targets_incident_to_its_target |
//! | open_gate | gates::open_gate_marks_the_step_waiting_approval, gates::open_gate_again_keeps_the_first_gate_and_its_decision |
//! | gate | gates::gate_of_an_unknown_step_is_none |
//! | decide_gate | gates::decide_gate_records_one_decision, gates::decide_gate_without_a_waiting_gate_is_refused, gates::decide_gate_has_one_winner_among_racing_operators, gates::decide_gate_withdraws_the_gate_notices |
//! | plan_gate_notice | gates::plan_gate_notice_writes_notices_while_the_gate_waits, gates::plan_gate_notice_after_the_decision_writes_nothing |
//! | notification_work | outbox::notification_work_lists_unrouted_incidents, outbox::notification_work_lists_unnotified_occurrences_of_routed_incidents, outbox::notification_work_lists_escalations_due, outbox::notification_work_lists_gates_to_announce_or_remind |
//! | plan_notifications | outbox::plan_notifications_writes_messages_and_moves_the_route, outbox::plan_notifications_only_if_open_stops_after_an_acknowledgement |
//! | due_notifications | outbox::due_notifications_oldest_due_first_and_limited |
//! | notification_tried | outbox::notification_tried_sent_records_the_receipt, outbox::notification_tried_failure_retries_then_gives_up, outbox::notification_tried_failure_of_a_withdrawn_message_keeps_it_withdrawn |
//! | list_notifications | outbox::list_notifications_newest_first_failed_only_and_limited |
//! | audit | records::audit_appends_every_action_unchanged |
//! | list_audit | records::list_audit_oldest_first_since_by_user_and_limited |
//! | audit_page | records::audit_page_newest_first_filtered_and_paged_by_id |
//! | record_param_change | records::record_param_change_reads_back_as_recorded |
//! | list_param_changes | records::list_param_changes_newest_first_by_key_and_limited |
//! | get_param_change | records::record_param_change_reads_back_as_recorded |
//! | mark_rolled_back | records::mark_rolled_back_marks_a_change_once |
//! | record_extract | records::record_extract_reads_back_as_recorded |
//! | list_extracts | records::list_extracts_newest_first_and_limited |
//! | record_permission_changes | records::record_permission_changes_returns_ids_in_order |
//! | list_permission_changes | records::list_permission_changes_filters_by_department_staff_and_batch |
//! | freeze_report | reports::freeze_report_freezes_once_and_refuses_other_bytes, reports::freeze_report_supersede_chains_and_keeps_the_old, reports::freeze_report_supersede_with_nothing_frozen_writes_nothing, reports::freeze_report_racing_freezes_freeze_once |
//! | frozen_report | reports::frozen_report_reads_one_by_id |
//! | frozen_reports_by_hash | reports::frozen_reports_by_hash_lists_every_report_with_those_bytes |
//! | current_frozen_reports | reports::current_frozen_reports_lists_those_no_other_supersedes_newest_first |
//! | frozen_report_body | reports::frozen_report_body_reads_the_bytes_as_frozen |
//! | list_frozen_reports | reports::list_frozen_reports_newest_first_and_limited |
//! | report_facts | reports::report_facts_reads_the_runs_queued_in_the_period, reports::report_facts_counts_slots_and_keeps_those_of_the_jobs_asked, reports::report_facts_counts_attempts_that_failed_or_retried, reports::report_facts_incidents_opened_in_or_open_at_the_start, reports::report_facts_records_made_in_the_period, reports::report_facts_first_notified_is_the_earliest_sent, monitor::report_facts_lists_the_findings_made_in_the_period |
//! | proposal_facts | reports::proposal_facts_reads_rule_firings_and_hardware_perfdata |
//! | write_history | history::write_history_reads_back_as_the_engine_leaves_a_run, history::write_history_that_fails_writes_nothing |
//! | run | history::write_history_reads_back_as_the_engine_leaves_a_run |
//! | attempts | history::write_history_reads_back_as_the_engine_leaves_a_run |
//! | slot | history::slot_without_a_run_is_listed |
//! | set_attempt_action | history::set_attempt_action_names_what_was_done_later |
//! | count_runs | history::count_runs_counts_every_recorded_run |
//! | slot_due_at | monitor::slot_due_at_is_the_due_time_of_the_slot_that_made_the_run |
//! | recent_durations | monitor::recent_durations_lists_succeeded_runs_before_newest_first_and_limited |
//! | record_finding | monitor::record_finding_writes_once_per_run_and_kind |
//! | set_finding_incident | monitor::set_finding_incident_notes_the_incident |
//! | run_findings | monitor::run_findings_lists_one_runs_findings_oldest_first |
//! | list_findings | monitor::record_finding_writes_once_per_run_and_kind, monitor::list_findings_in_the_period_oldest_first |
//! | record_check | checks::record_check_keeps_the_targets_state_from_consecutive_results, checks::targets_lists_every_target_by_name |
//! | targets | checks::targets_lists_every_target_by_name, checks::record_check_keeps_the_targets_state_from_consecutive_results |
//! | target_changes | checks::target_changes_lists_state_changes_before_the_instant_oldest_first |
//! | target_recovered | checks::target_recovered_resolves_the_targets_open_incident_only |
//! | metric_facts | checks::metric_facts_reads_active_runs_unresolved_incidents_and_the_heartbeat |
//! | runs_since | checks::runs_since_lists_ended_runs_from_an_id_with_the_oldest_active |
//! | slots_not_run | checks::slots_not_run_lists_missed_and_skipped_slots_after_an_id |
//! | fence_writes | nodes::fence_writes_a_fenced_daemon_commits_nothing_more |
//! | record_planned | nodes::record_planned_writes_only_while_the_lease_is_held |
//! | wakeups | nodes::wakeups_wake_the_daemons_when_a_run_is_queued_or_a_cancel_asked |
//! | register_node | nodes::register_node_lists_the_node_with_its_labels_and_runs, nodes::nodes_shows_the_newest_daemon_of_each_name |
//! | beat | nodes::beat_keeps_a_node_alive_and_a_silent_one_is_not, nodes::fence_dead_fences_a_silent_daemon_once |
//! | nodes | nodes::register_node_lists_the_node_with_its_labels_and_runs, nodes::nodes_shows_the_newest_daemon_of_each_name, nodes::beat_keeps_a_node_alive_and_a_silent_one_is_not |
//! | fence_dead | nodes::fence_dead_fences_a_silent_daemon_once, nodes::fence_dead_by_a_fenced_or_stopped_daemon_fences_nothing, nodes::take_lease_passes_from_a_fenced_holder |
//! | take_lease | nodes::take_lease_has_one_holder_until_it_expires, nodes::take_lease_racing_daemons_give_it_to_one, nodes::take_lease_passes_from_a_fenced_holder |
//! | missed_since | checks::missed_since_counts_missed_slots_due_since_by_job |
//! | delegate | delegations::delegate_hands_an_attempt_over_untaken |
//! | take_delegated | delegations::take_delegated_only_by_a_node_with_every_label, delegations::take_delegated_takes_oldest_first_up_to_the_limit, delegations::take_delegated_skips_ended_runs_and_stopped_or_fenced_daemons, delegations::take_delegated_racing_daemons_take_each_once |
//! | delegated_started | delegations::delegated_started_progress_and_end_read_back |
//! | delegation | delegations::delegate_hands_an_attempt_over_untaken, delegations::delegation_shows_a_taker_that_restarted_or_was_fenced_as_gone |
//! | delegated_progress | delegations::delegated_started_progress_and_end_read_back |
//! | cancel_delegated | delegations::cancel_delegated_says_whether_a_node_had_taken_it |
//! | end_delegated | delegations::delegated_started_progress_and_end_read_back |
//! | end_left | delegations::end_left_ends_what_earlier_daemons_of_the_node_took |
//! | open_request | desk::open_request_reads_back_with_its_opened_event, desk::list_requests_unclosed_first_filtered_and_limited |
//! | list_requests | desk::list_requests_unclosed_first_filtered_and_limited |
//! | get_request | desk::get_request_lists_its_history_oldest_first (and every contract of desk) |
//! | change_request | desk::change_request_through_its_life_records_each_event, desk::change_request_refused_writes_nothing, desk::change_request_closes_once_among_racing_operators |
//! | desk_facts | desk::desk_facts_reads_the_periods_requests_and_the_runs_of_requests |
//! | add_web_user | web::add_web_user_once_per_name, web::list_web_users_by_name, web::add_web_user_keeps_every_role |
//! | list_web_users | web::list_web_users_by_name |
//! | get_web_user | web::get_web_user_of_an_unknown_name_is_none, web::add_web_user_once_per_name |
//! | remove_web_user | web::remove_web_user_ends_its_sessions |
//! | set_web_password | web::set_web_password_replaces_the_hash_and_ends_sessions |
//! | open_web_session | web::open_web_session_then_touch_finds_its_user |
//! | touch_web_session | web::touch_web_session_moves_the_idle_expiry_and_forgets_an_expired_one, web::open_web_session_then_touch_finds_its_user |
//! | end_web_session | web::end_web_session_ends_only_that_session |
//! | business_day | today::business_day_counts_the_dates_runs_and_lists_those_filtered_newest_first |
//! | missed_slots | today::missed_slots_counts_and_lists_the_missed_slots_due_in_the_period |

// The contracts live beside this file, in `store_conformance/`.
#[path = "store_conformance/checks.rs"]
mod checks;
#[path = "store_conformance/delegations.rs"]
mod delegations;
#[path = "store_conformance/desk.rs"]
mod desk;
#[path = "store_conformance/fixtures.rs"]
mod fixtures;
#[path = "store_conformance/gates.rs"]
mod gates;
#[path = "store_conformance/history.rs"]
mod history;
#[path = "store_conformance/incidents.rs"]
mod incidents;
#[path = "store_conformance/monitor.rs"]
mod monitor;
#[path = "store_conformance/nodes.rs"]
mod nodes;
#[path = "store_conformance/outbox.rs"]
mod outbox;
#[path = "helper/pg.rs"]
mod pg;
#[path = "store_conformance/records.rs"]
mod records;
#[path = "store_conformance/reports.rs"]
mod reports;
#[path = "store_conformance/runs.rs"]
mod runs;
#[path = "store_conformance/schedule.rs"]
mod schedule;
#[path = "store_conformance/today.rs"]
mod today;
#[path = "store_conformance/web.rs"]
mod web;

/// Instantiates, for one backend, every contract listed: a test per contract, each on a
/// fresh database from `$fresh`.
macro_rules! contracts {
    ($fresh:path; $($module:ident { $($contract:ident),* $(,)? })*) => {
        $(mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $contract() {
                    let db = $fresh().await;
                    crate::$module::$contract(&db).await;
                }
            )*
        })*
    };
}

/// Every contract of the suite, by module.
macro_rules! every_contract {
    ($fresh:path) => {
        contracts! { $fresh;
            history {
                write_history_reads_back_as_the_engine_leaves_a_run,
                write_history_that_fails_writes_nothing,
                slot_without_a_run_is_listed,
                set_attempt_action_names_what_was_done_later,
                count_runs_counts_every_recorded_run,
            }
            runs {
                create_run_records_the_run_and_its_pending_steps_in_order,
                create_run_queued_has_no_start_and_keeps_not_before,
                create_run_of_a_rerun_keeps_steps_as_succeeded,
                set_run_status_sets_start_once_and_end_when_final,
                set_run_status_final_cancels_the_steps_that_never_started,
                set_run_status_interrupted_ends_running_steps_and_attempts,
                start_attempt_marks_the_step_running_and_counts_attempts,
                set_attempt_pid_records_the_process_id,
                finish_attempt_records_how_it_ended_and_the_step_status,
                finish_attempt_waiting_retry_leaves_the_step_open,
                end_step_ends_a_step_that_never_ran,
                writes_commit_in_the_order_they_were_called,
                list_runs_newest_first_filtered_and_limited,
                get_run_of_an_unknown_id_is_none,
                get_run_row_is_the_runs_row_of_get_run_without_steps,
                succeeded_only_for_a_succeeded_run_of_that_job_and_day,
                defer_run_sets_when_a_queued_run_may_start,
                active_runs_lists_queued_and_running_oldest_first,
                claim_run_takes_a_queued_run_once,
                claim_run_has_one_winner_among_racing_daemons,
                take_over_moves_a_running_run_from_its_gone_owner,
                take_over_has_one_winner_among_racing_daemons,
                request_cancel_cancels_a_queued_run_at_once,
                request_cancel_of_a_running_run_asks_its_owner,
                request_cancel_of_an_ended_or_unknown_run_changes_nothing,
                cancel_requested_is_none_until_someone_asks,
                writes_naming_an_unknown_run_change_nothing,
            }
            schedule {
                record_slots_returns_the_run_each_slot_made,
                record_slots_twice_makes_no_second_run,
                record_slots_racing_daemons_make_one_run_per_slot,
                watermarks_only_move_forward,
                list_slots_newest_first_filtered_and_limited,
                hold_is_taken_once_until_released,
                release_frees_a_held_job_once,
                holds_lists_every_held_job_by_name,
                register_daemon_returns_new_ids_listed_newest_first,
                heartbeat_moves_the_beat_and_keeps_the_stop,
            }
            incidents {
                open_incident_opens_with_its_first_event,
                open_incident_deduplicates_by_job_and_failure_class_until_resolved,
                open_incident_counts_occurrences_given,
                open_incident_raises_severity_and_shortens_deadline,
                open_incident_racing_failures_open_one_incident,
                list_incidents_newest_first_filtered_and_limited,
                get_incident_of_an_unknown_id_is_none,
                change_incident_acknowledges_then_resolves_once,
                change_incident_resolves_straight_from_open,
                change_incident_refused_writes_nothing,
                change_incident_withdraws_the_messages_nobody_needs,
                change_incident_has_one_winner_among_racing_operators,
                change_incident_completes_one_unyo_resolved,
                job_recovered_resolves_open_incidents_of_earlier_runs,
                job_recovered_without_resolve_only_notes,
                job_recovered_withdraws_the_messages_of_what_it_resolves,
            }
            gates {
                open_gate_marks_the_step_waiting_approval,
                open_gate_again_keeps_the_first_gate_and_its_decision,
                gate_of_an_unknown_step_is_none,
                decide_gate_records_one_decision,
                decide_gate_without_a_waiting_gate_is_refused,
                decide_gate_has_one_winner_among_racing_operators,
                decide_gate_withdraws_the_gate_notices,
                end_step_withdraws_the_notices_of_a_gate_that_ended_undecided,
                set_run_status_final_withdraws_the_notices_of_its_gates,
                plan_gate_notice_writes_notices_while_the_gate_waits,
                plan_gate_notice_after_the_decision_writes_nothing,
            }
            monitor {
                slot_due_at_is_the_due_time_of_the_slot_that_made_the_run,
                recent_durations_lists_succeeded_runs_before_newest_first_and_limited,
                record_finding_writes_once_per_run_and_kind,
                set_finding_incident_notes_the_incident,
                list_findings_in_the_period_oldest_first,
                report_facts_lists_the_findings_made_in_the_period,
                run_findings_lists_one_runs_findings_oldest_first,
            }
            outbox {
                notification_work_lists_unrouted_incidents,
                notification_work_lists_unnotified_occurrences_of_routed_incidents,
                notification_work_lists_escalations_due,
                notification_work_lists_gates_to_announce_or_remind,
                plan_notifications_writes_messages_and_moves_the_route,
                plan_notifications_only_if_open_stops_after_an_acknowledgement,
                due_notifications_oldest_due_first_and_limited,
                notification_tried_sent_records_the_receipt,
                notification_tried_failure_retries_then_gives_up,
                notification_tried_failure_of_a_withdrawn_message_keeps_it_withdrawn,
                list_notifications_newest_first_failed_only_and_limited,
            }
            records {
                audit_appends_every_action_unchanged,
                list_audit_oldest_first_since_by_user_and_limited,
                audit_page_newest_first_filtered_and_paged_by_id,
                record_param_change_reads_back_as_recorded,
                list_param_changes_newest_first_by_key_and_limited,
                mark_rolled_back_marks_a_change_once,
                record_extract_reads_back_as_recorded,
                list_extracts_newest_first_and_limited,
                record_permission_changes_returns_ids_in_order,
                list_permission_changes_filters_by_department_staff_and_batch,
            }
            nodes {
                register_node_lists_the_node_with_its_labels_and_runs,
                nodes_shows_the_newest_daemon_of_each_name,
                beat_keeps_a_node_alive_and_a_silent_one_is_not,
                fence_dead_fences_a_silent_daemon_once,
                fence_dead_by_a_fenced_or_stopped_daemon_fences_nothing,
                take_lease_has_one_holder_until_it_expires,
                take_lease_racing_daemons_give_it_to_one,
                take_lease_passes_from_a_fenced_holder,
                fence_writes_a_fenced_daemon_commits_nothing_more,
                record_planned_writes_only_while_the_lease_is_held,
                wakeups_wake_the_daemons_when_a_run_is_queued_or_a_cancel_asked,
            }
            desk {
                open_request_reads_back_with_its_opened_event,
                list_requests_unclosed_first_filtered_and_limited,
                get_request_lists_its_history_oldest_first,
                change_request_through_its_life_records_each_event,
                change_request_refused_writes_nothing,
                change_request_closes_once_among_racing_operators,
                desk_facts_reads_the_periods_requests_and_the_runs_of_requests,
            }
            delegations {
                delegate_hands_an_attempt_over_untaken,
                take_delegated_only_by_a_node_with_every_label,
                take_delegated_takes_oldest_first_up_to_the_limit,
                take_delegated_skips_ended_runs_and_stopped_or_fenced_daemons,
                take_delegated_racing_daemons_take_each_once,
                delegated_started_progress_and_end_read_back,
                cancel_delegated_says_whether_a_node_had_taken_it,
                delegation_shows_a_taker_that_restarted_or_was_fenced_as_gone,
                end_left_ends_what_earlier_daemons_of_the_node_took,
            }
            checks {
                record_check_keeps_the_targets_state_from_consecutive_results,
                targets_lists_every_target_by_name,
                target_changes_lists_state_changes_before_the_instant_oldest_first,
                target_recovered_resolves_the_targets_open_incident_only,
                job_recovered_leaves_a_targets_incident_to_its_target,
                metric_facts_reads_active_runs_unresolved_incidents_and_the_heartbeat,
                runs_since_lists_ended_runs_from_an_id_with_the_oldest_active,
                slots_not_run_lists_missed_and_skipped_slots_after_an_id,
                missed_since_counts_missed_slots_due_since_by_job,
            }
            web {
                add_web_user_once_per_name,
                add_web_user_keeps_every_role,
                list_web_users_by_name,
                get_web_user_of_an_unknown_name_is_none,
                remove_web_user_ends_its_sessions,
                set_web_password_replaces_the_hash_and_ends_sessions,
                open_web_session_then_touch_finds_its_user,
                touch_web_session_moves_the_idle_expiry_and_forgets_an_expired_one,
                end_web_session_ends_only_that_session,
            }
            today {
                business_day_counts_the_dates_runs_and_lists_those_filtered_newest_first,
                missed_slots_counts_and_lists_the_missed_slots_due_in_the_period,
            }
            reports {
                freeze_report_freezes_once_and_refuses_other_bytes,
                freeze_report_supersede_chains_and_keeps_the_old,
                freeze_report_supersede_with_nothing_frozen_writes_nothing,
                freeze_report_racing_freezes_freeze_once,
                frozen_report_reads_one_by_id,
                frozen_reports_by_hash_lists_every_report_with_those_bytes,
                current_frozen_reports_lists_those_no_other_supersedes_newest_first,
                frozen_report_body_reads_the_bytes_as_frozen,
                list_frozen_reports_newest_first_and_limited,
                report_facts_reads_the_runs_queued_in_the_period,
                report_facts_counts_slots_and_keeps_those_of_the_jobs_asked,
                report_facts_counts_attempts_that_failed_or_retried,
                report_facts_incidents_opened_in_or_open_at_the_start,
                report_facts_records_made_in_the_period,
                report_facts_first_notified_is_the_earliest_sent,
                proposal_facts_reads_rule_firings_and_hardware_perfdata,
            }
        }
    };
}

/// Runs every contract against one backend: `conformance!(NAME, FUNCTION)`, where
/// `FUNCTION().await` returns a fresh, empty [`fixtures::Db`].
macro_rules! conformance {
    ($backend:ident, $fresh:path) => {
        mod $backend {
            every_contract!($fresh);
        }
    };
}

conformance!(sqlite, crate::fixtures::backends::sqlite);
conformance!(postgres, crate::fixtures::backends::postgres);

/// The coverage table above names every method of the store's traits, and every contract it
/// names exists: a method added to the trait without a contract fails here.
#[test]
fn coverage_table_names_every_store_method_and_contract() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let me = std::fs::read_to_string(repo.join("tests/store_conformance.rs")).expect("read suite");
    let mut table: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in me.lines().filter_map(|l| l.strip_prefix("//! | ")) {
        let mut cells = line.trim_end().trim_end_matches('|').split(" | ");
        let (Some(method), Some(contracts)) = (cells.next(), cells.next()) else {
            continue;
        };
        if method == "method" || method.starts_with("---") {
            continue;
        }
        let names = contracts
            .split(", ")
            .map(|c| c.split(" (").next().unwrap_or(c).trim().to_owned())
            .collect();
        table.insert(method.trim().to_owned(), names);
    }

    // The methods of every public trait under src/store: `fn NAME(` inside `pub trait ... {`
    // up to its closing `}` at the start of a line.
    let mut methods = std::collections::BTreeSet::new();
    let mut dirs = vec![repo.join("src/store")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src/store") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            let mut inside = false;
            for line in text.lines() {
                if line.starts_with("pub trait ") && line.trim_end().ends_with('{') {
                    inside = true;
                } else if inside && line.starts_with('}') {
                    inside = false;
                } else if inside {
                    let Some(rest) = line.trim_start().strip_prefix("fn ") else {
                        continue;
                    };
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    methods.insert(name);
                }
            }
        }
    }
    assert!(methods.len() >= 50, "found only {methods:?} in src/store");
    let missing: Vec<&String> = methods.iter().filter(|m| !table.contains_key(*m)).collect();
    assert!(
        missing.is_empty(),
        "store methods without a row in the table: {missing:?}"
    );
    let unknown: Vec<&String> = table.keys().filter(|m| !methods.contains(*m)).collect();
    assert!(
        unknown.is_empty(),
        "rows for methods the store has not: {unknown:?}"
    );

    let mut problems = Vec::new();
    for (method, contracts) in &table {
        if contracts.is_empty() {
            problems.push(format!("`{method}` has no contract"));
        }
        for contract in contracts {
            let Some((module, name)) = contract.split_once("::") else {
                problems.push(format!("`{contract}` is not MODULE::NAME"));
                continue;
            };
            let path = repo.join(format!("tests/store_conformance/{module}.rs"));
            let source = std::fs::read_to_string(&path).unwrap_or_default();
            let head = format!("pub async fn {name}(db: &Db)");
            let Some(start) = source.find(&head) else {
                problems.push(format!(
                    "the table names `{contract}`, which {module}.rs does not define"
                ));
                continue;
            };
            let body = &source[start + head.len()..];
            let body = &body[..body.find("\npub async fn ").unwrap_or(body.len())];
            if !body.contains(&format!(".{method}(")) {
                problems.push(format!("`{contract}` does not call `{method}`"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
