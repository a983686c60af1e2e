// The one place internal names become the words people read: event types, stages,
// channels, reasons, operators, traits, teams, statuses. Every screen and export goes
// through `humanise` (one value) or `humaniseText` (a sentence from the API).

const WORDS: Record<string, string> = {
  // events
  page_view: "Page view",
  email_open: "Email opened",
  email_click: "Email link clicked",
  ad_click: "Ad clicked",
  social_engagement: "Social engagement",
  content_download: "Content downloaded",
  chat_conversation: "Chat conversation",
  webinar_attended: "Webinar attended",
  event_attended: "Event attended",
  form_submit: "Form submitted",
  demo_request: "Demo requested",
  identify: "Identified",
  lead_created: "Lead created",
  lead_updated: "Details updated",
  sales_email: "Sales email",
  sales_call: "Sales call",
  meeting_held: "Meeting held",
  content_shared: "Content shared by sales",
  lead_accepted: "Accepted by sales",
  lead_rejected: "Rejected by sales",
  lead_disqualified: "Disqualified by sales",
  opportunity_created: "Opportunity created",
  opportunity_stage_changed: "Deal stage changed",
  deal_won: "Deal won",
  deal_lost: "Deal lost",
  campaign_spend: "Campaign spend",
  objection_logged: "Objection logged",
  competitor_mentioned: "Competitor mentioned",
  rescore: "Re-scored after a settings change",
  // stages
  AWARE: "Aware",
  ENGAGED: "Engaged",
  MQL: "MQL",
  SQL: "SQL",
  OPPORTUNITY: "Opportunity",
  CUSTOMER: "Customer",
  NURTURE: "Nurture",
  DISQUALIFIED: "Disqualified",
  CLOSED_LOST: "Closed lost",
  // channels and sources
  organic_search: "Organic search",
  paid_search: "Paid search",
  paid_social: "Paid social",
  organic_social: "Organic social",
  content_syndication: "Content syndication",
  email: "Email",
  partner: "Partner",
  outbound: "Outbound (sales)",
  webinar: "Webinar",
  events: "Events",
  referral: "Referral",
  direct: "Direct",
  display: "Display ads",
  "(none)": "No touch recorded",
  "(unattributed)": "Unattributed",
  "(no campaign)": "No campaign",
  // rejection and lost reasons
  not_icp: "Not our ideal customer",
  no_budget: "No budget",
  bad_timing: "Bad timing",
  no_authority: "No authority",
  duplicate: "Duplicate",
  junk: "Junk",
  competitor: "Went with a competitor",
  other: "Other",
  // condition operators
  eq: "is",
  neq: "is not",
  in: "is one of",
  not_in: "is none of",
  gte: "is at least",
  lte: "is at most",
  between: "is between",
  contains: "contains",
  exists: "is set",
  // traits
  job_title: "Job title",
  company_size: "Company size",
  annual_revenue: "Annual revenue",
  company_domain: "Company domain",
  seniority: "Seniority",
  department: "Department",
  industry: "Industry",
  country: "Country",
  // teams, statuses, kinds
  SALES: "Sales",
  MARKETING: "Marketing",
  BOTH: "Sales and marketing",
  OPEN: "Open",
  IN_PROGRESS: "In progress",
  DONE: "Done",
  DROPPED: "Dropped",
  WON: "Won",
  LOST: "Lost",
  TOFU: "Top of funnel",
  MOFU: "Middle of funnel",
  BOFU: "Bottom of funnel",
  RESPONSE: "First response",
  DISPOSITION: "Accept or reject",
  WITHIN: "Answered in time",
  BREACHED: "SLA breached",
  LATE: "Answered late",
  OVERDUE: "Not answered, past the deadline",
  PENDING: "Waiting, still in time",
  sales_activity: "Sales activity",
  no_response: "No response yet",
  // webhook events
  LEAD_STAGE_CHANGED: "Lead changed stage",
  LEAD_MQL: "Lead became an MQL",
  LEAD_SCORE_CHANGED: "Lead score changed",
  SLA_BREACHED: "SLA breached",
  DEAL_WON: "Deal won",
  DEAL_LOST: "Deal lost",
  ACTION_ITEM_DUE: "Action item due",
  // configuration sections
  icp: "Ideal customer profile",
  scoring_model: "Scoring model",
  sla: "SLA rules",
  attribution: "Attribution models",
  restore: "Earlier version restored",
  // models
  FIRST_TOUCH: "First touch",
  LAST_TOUCH: "Last touch",
  LINEAR: "Linear",
  U_SHAPED: "U-shaped",
  W_SHAPED: "W-shaped",
  FULL_PATH: "Full path",
  TIME_DECAY: "Time decay",
  DATA_DRIVEN: "Data-driven",
};

const ACRONYMS = new Set(["MQL", "SQL", "SLA", "CSV", "ICP", "CRM", "SEO", "ABM"]);

/** How an MQL was first answered (the SLA report's groups). */
export const RESPONSE_GROUPS: Record<string, string> = {
  SALES_ACTIVITY: "Email, call or meeting",
  LEAD_DECISION: "Accepted or rejected",
  OPPORTUNITY: "Opportunity opened",
  NO_RESPONSE: "Not answered yet",
};

/** The words for one internal value; an unknown snake_case or UPPER_CASE value reads as a
 * sentence-case phrase ("closed_won" → "Closed won"). */
export function humanise(value: string | null | undefined): string {
  if (value == null || value === "") return "–";
  const known = WORDS[value] ?? WORDS[value.toLowerCase()];
  if (known) return known;
  // A lower-case word ("proposal", "event") starts with a capital; any other text is a name.
  if (/^[a-z]+$/.test(value)) return value[0].toUpperCase() + value.slice(1);
  if (!/[_]/.test(value) && !/^[A-Z]+$/.test(value)) return value;
  const words = value.split(/[_\s]+/).filter(Boolean);
  return words
    .map((w, i) => {
      if (ACRONYMS.has(w.toUpperCase())) return w.toUpperCase();
      const lower = w.toLowerCase();
      return i === 0 ? lower[0].toUpperCase() + lower.slice(1) : lower;
    })
    .join(" ");
}

/** The words for a value in the middle of a sentence (lower case unless an acronym). */
function inSentence(token: string): string {
  const words = humanise(token);
  return ACRONYMS.has(words.split(" ")[0]) ? words : words[0].toLowerCase() + words.slice(1);
}

const TOKEN = /\b[a-z]+(?:_[a-z]+)+\b|\b(?:AWARE|ENGAGED|MQL|SQL|OPPORTUNITY|CUSTOMER|NURTURE|DISQUALIFIED|CLOSED_LOST)\b/g;

/** A sentence from the API (a transition's reason, an evidence rule) in plain words: the
 * stage names and snake_case ids in it replaced by their words. */
export function humaniseText(text: string | null | undefined): string {
  if (!text) return "";
  return text
    .replace(/^([A-Z_]+): /, (_, stage: string) => `${humanise(stage)}: `)
    .replace(/; ([A-Z_]+): /g, (_, stage: string) => `; ${inSentence(stage)}: `)
    .replace(TOKEN, (token) => inSentence(token))
    .replace(/ >= /g, " ≥ ")
    .replace(/ <= /g, " ≤ ");
}

/** A scoring rule as the API describes it ("company_size gte 200", "department in
 * ['marketing', 'sales']") in words: "company size is at least 200". */
export function humaniseRule(text: string | null | undefined): string {
  if (!text) return "";
  const plain = text
    .replace(/\[([^\]]*)\]/g, (_, items: string) => items.replace(/'/g, ""))
    .replace(/ (eq|neq|in|not_in|gte|lte|between|contains|exists)(?= |$)/g, (_, op: string) => ` ${WORDS[op]}`);
  const words = humaniseText(plain);
  return words[0].toUpperCase() + words.slice(1);
}

/** A campaign's id as a name, cased the same on every page: "product-launch-email" →
 * "Product launch email"; a name that already has capitals or spaces is kept. */
export function humaniseCampaign(id: string | null | undefined): string {
  if (!id) return "–";
  if (WORDS[id]) return WORDS[id];
  if (/[A-Z ]/.test(id)) return id;
  const text = id.replace(/[-_]+/g, " ").trim();
  return text.replace(/\b(q[1-4]|abm|seo|saas|crm|roi|cfo|cto|ceo|vp)\b/g, (w) => w.toUpperCase()).replace(/^./, (c) => c.toUpperCase());
}
