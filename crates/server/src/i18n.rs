//! The workbench's words in Chinese (the default) and English.

/// A language of the workbench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese, the default: any code but `en`.
    Zh,
    /// English, for the code `en`.
    En,
}

impl Lang {
    /// From a stored or requested code; anything but `en` is Chinese.
    pub fn from_code(code: &str) -> Lang {
        if code == "en" { Lang::En } else { Lang::Zh }
    }

    /// The code stored with the session and used in `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// (key, 中文, English).
const WORDS: &[(&str, &str, &str)] = &[
    ("app", "arrears 贷后催收", "arrears collections"),
    ("login", "登录", "Log in"),
    ("logout", "退出", "Log out"),
    ("user", "用户名", "User name"),
    ("password", "密码", "Password"),
    ("queue", "我的队列", "My queue"),
    ("cases", "案件", "Cases"),
    ("dashboard", "管理看板", "Dashboard"),
    ("audit", "审计", "Audit"),
    ("admin", "管理", "Admin"),
    ("alerts", "预警", "Alerts"),
    ("queue_title", "今日队列（按优先级）", "Today's queue (by priority)"),
    ("queue_empty", "队列为空", "The queue is empty"),
    ("priority", "优先级", "Priority"),
    ("case", "案件", "Case"),
    ("borrower", "借款人", "Borrower"),
    ("todo", "待办", "To do"),
    ("why", "原因", "Why"),
    ("due_at", "可联系时间", "Allowed from"),
    ("dpd", "逾期天数", "DPD"),
    ("segment", "分群", "Segment"),
    ("status", "状态", "Status"),
    ("opened_on", "立案日期", "Opened"),
    ("collector", "催收员", "Collector"),
    ("agency", "委外机构", "Agency"),
    ("hold", "暂停", "Hold"),
    ("profile", "客户画像", "Borrower profile"),
    ("national_id", "身份证号", "National ID"),
    ("phone", "电话", "Phone"),
    ("email", "邮箱", "E-mail"),
    ("timezone", "时区", "Time zone"),
    ("loans", "贷款", "Loans"),
    ("product", "产品", "Product"),
    ("principal", "本金", "Principal"),
    ("outstanding", "剩余本金", "Outstanding principal"),
    ("overdue", "逾期金额", "Overdue"),
    ("bucket", "账龄", "Bucket"),
    ("five_class", "五级分类", "Five-class"),
    ("schedule", "还款计划", "Schedule"),
    ("seq", "期次", "No."),
    ("due_on", "应还日", "Due"),
    ("interest", "利息", "Interest"),
    ("fee", "费用", "Fee"),
    ("paid", "已还", "Paid"),
    ("payments", "还款记录", "Payments"),
    ("date", "日期", "Date"),
    ("amount", "金额", "Amount"),
    ("channel", "渠道", "Channel"),
    ("dpd_history", "逾期天数走势", "DPD history"),
    ("contacts", "联系人", "Contacts"),
    ("relation", "关系", "Relation"),
    ("consent", "同意联系", "Consent"),
    ("name", "姓名", "Name"),
    ("history", "催收记录", "Action history"),
    ("messages", "自动消息", "Automatic messages"),
    ("template", "模板", "Template"),
    ("delivered_at", "送达时间", "Delivered"),
    ("text", "内容", "Text"),
    ("reason", "原因", "Reason"),
    ("at", "时间", "When"),
    ("at_optional", "联系时间（空 = 现在）", "When (empty = now)"),
    ("party", "对象", "Party"),
    ("outcome", "结果", "Outcome"),
    ("note", "备注", "Note"),
    ("policy", "合规检查", "Policy check"),
    ("allowed", "允许", "allowed"),
    ("refused", "拒绝", "refused"),
    ("promises", "承诺还款", "Promises to pay"),
    ("tasks", "任务", "Tasks"),
    ("step", "步骤", "Step"),
    ("log_action", "记录催收", "Log a contact"),
    ("ptp_amount", "承诺金额", "Promised amount"),
    ("ptp_date", "承诺日期", "Promised date"),
    ("purpose", "用途", "Purpose"),
    ("save", "保存", "Save"),
    ("logged", "已记录", "Logged"),
    ("refused_title", "合规拒绝：未联系", "Refused by the contact policy"),
    ("arrangement", "申请展期 / 分期 / 减免", "Request an arrangement"),
    ("kind", "类型", "Kind"),
    ("months", "期数（月）", "Months"),
    ("request", "提交申请", "Request"),
    ("requested", "已提交申请", "Requested"),
    ("ability", "还款能力", "Repayment ability"),
    ("restrictions", "联系限制", "Contact restrictions"),
    ("score_roll", "30 天内滚入 M2 概率", "Roll to M2 within 30 days"),
    ("score_ptp", "14 天内还款倾向", "Propensity to pay within 14 days"),
    ("points", "分", "points"),
    ("scores_alerts", "评分与预警", "Scores and alerts"),
    ("rule", "规则", "Rule"),
    ("severity", "级别", "Severity"),
    ("values", "触发值", "Values"),
    ("none", "无", "none"),
    ("portfolio", "资产组合", "Portfolio"),
    ("by_bucket", "按账龄", "By bucket"),
    ("by_five_class", "按五级分类", "By five-class"),
    ("trend", "账龄余额走势（30 天）", "Balance by bucket (30 days)"),
    ("roll_rates", "迁徙率矩阵", "Roll-rate matrix"),
    ("from_to", "从 \\ 到", "from \\ to"),
    ("collectors", "催收员业绩", "Collectors"),
    ("agencies", "委外机构", "Agencies"),
    (
        "channel_figures",
        "渠道效果（发送后三日内回款或承诺）",
        "Channels (payment or promise within three days of sending)",
    ),
    ("sent", "已发送", "Sent"),
    ("delivered", "已送达", "Delivered"),
    ("failed", "失败", "Failed"),
    ("refused_messages", "拒发", "Refused"),
    ("waiting", "待发", "Waiting"),
    ("response_rate", "响应率", "Response"),
    ("cost", "费用", "Cost"),
    ("collectors_teams", "催收员与团队", "Collectors and teams"),
    ("arms", "冠军 / 挑战者策略", "Champion vs challenger"),
    ("health", "队列健康", "Queue health"),
    ("overdue_tasks", "超时任务", "Overdue tasks"),
    ("unallocated_tasks", "未分配任务", "Unallocated tasks"),
    ("unallocated_cases", "未分配案件", "Unallocated cases"),
    ("ptp_rate", "承诺兑现率", "Promise kept rate"),
    ("kept", "兑现", "kept"),
    ("broken", "违约", "broken"),
    ("pending", "待定", "pending"),
    ("recovered", "回收金额", "Recovered"),
    ("contacts_made", "联系次数", "Contacts"),
    ("cure_rate", "出催率", "Cure rate"),
    ("experiment", "实验", "Experiment"),
    ("arm", "组别", "Arm"),
    ("placements", "委案", "Placements"),
    ("open", "在案", "Open"),
    ("commission", "佣金率", "Commission"),
    ("move_case", "调整案件", "Move a case"),
    ("move", "调整", "Move"),
    ("loans_count", "笔数", "Loans"),
    ("verify", "校验审计日志", "Verify the audit log"),
    ("intact", "完整", "intact"),
    ("tampered", "被篡改", "tampered"),
    ("entries", "条目", "entries"),
    ("lookup", "查询条目与证明", "Look up an entry and its proof"),
    ("entry_no", "条目序号", "Entry number"),
    ("evidence", "下载证据包", "Download the evidence package"),
    ("users", "用户与角色", "Users and roles"),
    ("role", "角色", "Role"),
    ("team", "团队", "Team"),
    ("add_user", "新增用户", "Add a user"),
    ("strategy_upload", "上传策略", "Upload a strategy"),
    ("check", "检查", "Check"),
    ("install", "检查并安装", "Check and install"),
    ("strategy_ok", "检查通过", "The strategy passed"),
    ("installed", "已安装", "installed"),
    ("capacity", "日容量", "Daily capacity"),
    ("as_of", "业务日期", "Business date"),
    ("no_figures", "该日期尚无数据：先运行日终批处理", "No figures for this date yet: run the batch first"),
    ("lang_switch", "English", "中文"),
    ("back", "返回", "Back"),
    ("approvals", "待审批", "Approvals"),
    ("q_owed", "当前欠款", "Owed now"),
    ("q_total_to_pay", "应还总额", "Total to pay"),
    ("q_waived", "减免金额", "Waived"),
    ("q_five_class", "五级分类（前 → 后）", "Five-class (before → after)"),
    ("q_written_off", "已核销未收回", "Written off, not recovered"),
    ("q_price", "转让价格", "Price"),
    ("q_discount", "折扣", "Discount"),
    ("q_error", "无法测算", "Cannot be quoted"),
    ("nothing_waiting", "没有待审批的申请", "Nothing is waiting for a decision"),
    ("approve", "批准", "Approve"),
    ("decline", "拒绝", "Decline"),
    ("requested_by", "申请人", "Requested by"),
    ("quote", "测算", "Quote"),
    ("decided", "已处理", "Decided"),
    ("legal_board", "法务看板", "Legal board"),
    ("no_legal_cases", "暂无诉讼案件", "No legal cases"),
    ("stage", "阶段", "Stage"),
    ("deadline", "期限", "Deadline"),
    ("deadline_passed", "已逾期限", "deadline passed"),
    ("firm", "律所", "Law firm"),
    ("lawyer", "律师", "Lawyer"),
    ("claim", "诉请金额", "Claim"),
    ("costs", "费用（可追偿 / 自担）", "Costs (recoverable / borne)"),
    ("dishonest", "失信被执行人", "Listed as dishonest debtor"),
    ("move_to", "推进到", "Move to"),
    ("refer_to_legal", "转法务诉讼", "Refer to legal"),
    ("write_off_request", "核销申请", "Request a write-off"),
    ("loan", "贷款", "Loan"),
    ("amount_all_if_blank", "金额（留空为全部）", "Amount (blank: all of it)"),
    ("reverse_write_off", "冲回已核销", "Reverse the write-off"),
    ("transfers", "不良资产转让", "NPL transfers"),
    ("new_transfer", "发起转让", "New transfer"),
    ("buyer", "受让方", "Buyer"),
    ("currency", "币种", "Currency"),
    ("cut_off", "基准日", "Cut-off date"),
    ("transfer_on", "转让日", "Transfer date"),
    ("min_dpd", "最低逾期天数", "At least DPD"),
    ("at_most", "最多笔数", "At most (loans)"),
    ("total_owed", "基准日欠款", "Owed at cut-off"),
    ("package", "转让资料包", "Package"),
    ("no_transfers", "暂无转让", "No transfers yet"),
];

/// The word for `key`; the key itself if there is none (a test keeps that from happening).
pub fn t(lang: Lang, key: &'static str) -> &'static str {
    WORDS.iter().find(|(k, _, _)| *k == key).map_or(key, |(_, zh, en)| if lang == Lang::En { en } else { zh })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_are_filled() {
        let mut seen = std::collections::HashSet::new();
        for (k, zh, en) in WORDS {
            assert!(seen.insert(*k), "key {k} twice");
            assert!(!zh.is_empty() && !en.is_empty(), "{k}");
        }
        assert_eq!(t(Lang::Zh, "login"), "登录");
        assert_eq!(t(Lang::En, "login"), "Log in");
    }

    #[test]
    fn every_key_the_pages_use_exists() {
        // The page sources name their words as t(l, "key"); each must be in the table.
        let sources =
            [include_str!("pages/layout.rs"), include_str!("pages/work.rs"), include_str!("pages/manage.rs")];
        for src in sources {
            for part in src.split("t(l, \"").skip(1) {
                let key = part.split('"').next().unwrap_or_default();
                assert!(WORDS.iter().any(|(k, _, _)| *k == key), "missing word {key:?}");
            }
        }
    }
}
