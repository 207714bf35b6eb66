//! The fixed words of the dashboard in each language it speaks, in one place: [`Words`] has
//! one field a word and one constant a language, so a word added to one language does not
//! build until every language has it. Which language a request gets follows its
//! `Accept-Language` ([`Lang::from_accept`]). Data (job names, statuses, log lines) is shown
//! as recorded, never translated.

/// A language of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// The language of `Accept-Language` (RFC 9110: tags with optional `q` weights): the
    /// one of ours with the highest weight; English when the header names neither.
    pub fn from_accept(header: Option<&str>) -> Lang {
        let mut best = (Lang::En, 0.0_f32);
        for item in header.unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
                .unwrap_or(0.0);
            let lang = if tag == "ja" || tag.starts_with("ja-") {
                Lang::Ja
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if q > best.1 {
                best = (lang, q);
            }
        }
        best.0
    }

    /// The value of `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }
}

/// Every fixed word of the layout and pages.
#[derive(Debug)]
pub struct Words {
    pub title: &'static str,
    pub today: &'static str,
    pub business_date: &'static str,
    pub time_zone: &'static str,
    pub succeeded: &'static str,
    pub failed: &'static str,
    pub running: &'static str,
    pub queued: &'static str,
    pub waiting_approval: &'static str,
    pub attention: &'static str,
    pub nothing_needs_attention: &'static str,
    pub incident: &'static str,
    pub failed_run: &'static str,
    pub running_now: &'static str,
    pub nothing_running: &'static str,
    pub next_24h: &'static str,
    pub nothing_scheduled: &'static str,
    pub more_slots: &'static str,
    pub run: &'static str,
    pub job: &'static str,
    pub node: &'static str,
    pub since: &'static str,
    pub due: &'static str,
    pub decision: &'static str,
    pub status: &'static str,
    pub trigger: &'static str,
    pub parameters: &'static str,
    pub queued_at: &'static str,
    pub started_at: &'static str,
    pub ended_at: &'static str,
    pub duration: &'static str,
    pub reason: &'static str,
    pub steps: &'static str,
    pub step: &'static str,
    pub attempts: &'static str,
    pub attempt: &'static str,
    pub exit: &'static str,
    pub output_tail: &'static str,
    pub no_output: &'static str,
    pub not_found: &'static str,
    pub no_such_page: &'static str,
    pub no_such_run: &'static str,
    pub unavailable: &'static str,
    pub read_only: &'static str,
    pub incidents: &'static str,
    pub login: &'static str,
    pub logout: &'static str,
    pub user_name: &'static str,
    pub password: &'static str,
    pub login_failed: &'static str,
    pub login_needed: &'static str,
    pub login_needed_text: &'static str,
    pub refused: &'static str,
    pub cross_site: &'static str,
    pub no_open_incidents: &'static str,
    pub opened: &'static str,
    pub severity: &'static str,
    pub summary: &'static str,
    pub acknowledged_by: &'static str,
    pub acknowledge: &'static str,
    pub cancel: &'static str,
    pub approve: &'static str,
    pub reject: &'static str,
    pub comment: &'static str,
    pub actions: &'static str,
    pub late: &'static str,
    pub missed: &'static str,
    pub late_run: &'static str,
    pub missed_slot: &'static str,
    pub over_expected: &'static str,
    pub failing_check: &'static str,
    pub expected: &'static str,
    pub timeline: &'static str,
    pub filter: &'static str,
    pub any_status: &'static str,
    pub any_node: &'static str,
    pub bad_runs: &'static str,
    pub runs_shown: &'static str,
    pub runs_matching: &'static str,
    pub no_runs_match: &'static str,
    pub bad_filter: &'static str,
}

pub const EN: Words = Words {
    title: "unyo",
    today: "Today",
    business_date: "Business date",
    time_zone: "time zone",
    succeeded: "Succeeded",
    failed: "Failed",
    running: "Running",
    queued: "Queued",
    waiting_approval: "Waiting for approval",
    attention: "Needs attention",
    nothing_needs_attention: "Nothing needs attention.",
    incident: "Incident",
    failed_run: "Failed run",
    running_now: "Running now",
    nothing_running: "Nothing is running.",
    next_24h: "Next 24 hours",
    nothing_scheduled: "No slot in the next 24 hours.",
    more_slots: "More slots follow in these 24 hours; `unyo next` lists them all.",
    run: "Run",
    job: "Job",
    node: "Node",
    since: "Since",
    due: "Due",
    decision: "Decision",
    status: "Status",
    trigger: "Trigger",
    parameters: "Parameters",
    queued_at: "Queued",
    started_at: "Started",
    ended_at: "Ended",
    duration: "Duration",
    reason: "Reason",
    steps: "Steps",
    step: "Step",
    attempts: "Attempts",
    attempt: "Attempt",
    exit: "Exit",
    output_tail: "Output (last lines)",
    no_output: "(no output)",
    not_found: "Not found",
    no_such_page: "There is no such page.",
    no_such_run: "There is no run with this number.",
    unavailable: "The records cannot be read",
    read_only: "read-only",
    incidents: "Incidents",
    login: "Log in",
    logout: "Log out",
    user_name: "User",
    password: "Password",
    login_failed: "Wrong user or password.",
    login_needed: "Login needed",
    login_needed_text: "Log in with a role that may do this.",
    refused: "Refused",
    cross_site: "A request from another site, or a form without its token, is refused.",
    no_open_incidents: "No open or acknowledged incident.",
    opened: "Opened",
    severity: "Severity",
    summary: "Summary",
    acknowledged_by: "Acknowledged by",
    acknowledge: "Acknowledge",
    cancel: "Cancel the run",
    approve: "Approve",
    reject: "Reject",
    comment: "Comment",
    actions: "Actions",
    late: "Late",
    missed: "Missed",
    late_run: "Late run",
    missed_slot: "Missed slot",
    over_expected: "Over its expected time",
    failing_check: "Failing check",
    expected: "Expected",
    timeline: "The day's runs",
    filter: "Show",
    any_status: "Any status",
    any_node: "Any node",
    bad_runs: "failed or interrupted",
    runs_shown: "shown, newest first, of",
    runs_matching: "runs",
    no_runs_match: "No run of the business date matches.",
    bad_filter: "Unknown filter",
};

pub const JA: Words = Words {
    title: "unyo",
    today: "本日",
    business_date: "業務日付",
    time_zone: "タイムゾーン",
    succeeded: "正常終了",
    failed: "異常終了",
    running: "実行中",
    queued: "待機中",
    waiting_approval: "承認待ち",
    attention: "要対応",
    nothing_needs_attention: "対応が必要なものはありません。",
    incident: "インシデント",
    failed_run: "異常終了した実行",
    running_now: "実行中のジョブ",
    nothing_running: "実行中のジョブはありません。",
    next_24h: "今後24時間の予定",
    nothing_scheduled: "今後24時間に予定はありません。",
    more_slots: "この24時間にはほかにも予定があります（すべては `unyo next` で表示）。",
    run: "実行",
    job: "ジョブ",
    node: "ノード",
    since: "開始",
    due: "予定時刻",
    decision: "判定",
    status: "状態",
    trigger: "契機",
    parameters: "パラメータ",
    queued_at: "受付",
    started_at: "開始",
    ended_at: "終了",
    duration: "所要時間",
    reason: "理由",
    steps: "ステップ",
    step: "ステップ",
    attempts: "試行",
    attempt: "試行",
    exit: "終了コード",
    output_tail: "出力（末尾）",
    no_output: "（出力なし）",
    not_found: "見つかりません",
    no_such_page: "このページはありません。",
    no_such_run: "この番号の実行はありません。",
    unavailable: "記録を読めません",
    read_only: "閲覧専用",
    incidents: "インシデント一覧",
    login: "ログイン",
    logout: "ログアウト",
    user_name: "ユーザー",
    password: "パスワード",
    login_failed: "ユーザー名またはパスワードが違います。",
    login_needed: "ログインが必要です",
    login_needed_text: "この操作ができるロールでログインしてください。",
    refused: "拒否しました",
    cross_site: "他のサイトからの要求、またはトークンのないフォームは受け付けません。",
    no_open_incidents: "未対応・対応中のインシデントはありません。",
    opened: "発生",
    severity: "重大度",
    summary: "概要",
    acknowledged_by: "受付者",
    acknowledge: "受付",
    cancel: "実行を取り消す",
    approve: "承認",
    reject: "却下",
    comment: "コメント",
    actions: "操作",
    late: "遅延",
    missed: "未実行",
    late_run: "遅延した実行",
    missed_slot: "未実行の予定",
    over_expected: "想定時間超過",
    failing_check: "異常な監視対象",
    expected: "想定",
    timeline: "本日の実行一覧",
    filter: "表示",
    any_status: "すべての状態",
    any_node: "すべてのノード",
    bad_runs: "異常終了・中断",
    runs_shown: "件を表示（新しい順）／該当",
    runs_matching: "件",
    no_runs_match: "条件に合う本日の実行はありません。",
    bad_filter: "絞り込み条件が不正です",
};

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn accept_language_picks_the_heaviest_of_ours() {
        assert_eq!(Lang::from_accept(None), Lang::En);
        assert_eq!(Lang::from_accept(Some("ja")), Lang::Ja);
        assert_eq!(Lang::from_accept(Some("ja-JP,ja;q=0.9,en;q=0.8")), Lang::Ja);
        assert_eq!(Lang::from_accept(Some("en-US,en;q=0.9,ja;q=0.5")), Lang::En);
        assert_eq!(Lang::from_accept(Some("fr, ja;q=0.3")), Lang::Ja);
        assert_eq!(Lang::from_accept(Some("de, fr")), Lang::En);
        assert_eq!(Lang::from_accept(Some("ja;q=0")), Lang::En);
    }
}
