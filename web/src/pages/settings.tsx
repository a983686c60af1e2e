import { useEffect, useState } from "preact/hooks";
import { ApiError, can, type FieldProblem, gql } from "../api";
import { checkNumbers, Field, failed, FormNote, NONE, type Outcome, problemFor, submit } from "../forms";
import { fmt } from "../format";
import { ConnectorsCard, WebhooksCard } from "./integrations";
import { ShareLinksCard } from "./sharing";
import { Card, Definition, ErrorNote, Loading, useQuery, useSession } from "../ui";
import { humanise } from "../words";

export const CONFIG_QUERY = `query Settings {
  tenantConfig {
    version updatedAt updatedBy
    fitRules { attribute op value points }
    gradeThresholds { a b c }
    windowDays
    engagementRules { eventType when { attribute op value } points maxPerWindow }
    mql { minFit minEngagement fastTrackTypes fastTrackMinFit }
    sla { mqlResponseHours mqlDispositionHours rejectionReasons }
  }
}`;
const UPDATE_ICP = "mutation ($input: IcpInput!) { updateIcp(input: $input) { version } }";
const UPDATE_SCORING = "mutation ($input: ScoringModelInput!) { updateScoringModel(input: $input) { version } }";
const PREVIEW = `query ($input: ScoringModelInput!) {
  scoringModelPreview(input: $input) { leadsChecked newMqls engagementUp engagementDown }
}`;
const HISTORY = `query ConfigHistory { configHistory(first: 20) { edges { node { version section authorName createdAt restoredFrom } } } }`;
const RESTORE = "mutation ($version: Int!) { restoreConfigVersion(version: $version) { version } }";
// The event types a touch can have, for the engagement rules' picker.
const TOUCH_TYPES = [
  "page_view", "email_open", "email_click", "ad_click", "social_engagement", "content_download",
  "chat_conversation", "webinar_attended", "event_attended", "form_submit", "demo_request",
];
const UPDATE_SLA = "mutation ($input: SlaRulesInput!) { updateSlaRules(input: $input) { version } }";
const OPS = ["eq", "neq", "in", "not_in", "gte", "lte", "between", "contains", "exists"];

interface FitRule {
  attribute: string;
  op: string;
  value: string; // JSON text while edited
  points: string;
}
interface EngagementRule {
  eventType: string;
  when: { attribute: string; op: string; value: unknown } | null;
  points: number;
  maxPerWindow: number | null;
}
interface RuleDraft {
  eventType: string;
  when: EngagementRule["when"];
  points: string;
  cap: string;
}
interface Preview {
  leadsChecked: number;
  newMqls: number;
  engagementUp: number;
  engagementDown: number;
}
interface Config {
  version: number;
  updatedAt: string | null;
  updatedBy: string | null;
  fitRules: { attribute: string; op: string; value: unknown; points: number }[];
  gradeThresholds: { a: number; b: number; c: number };
  windowDays: number;
  engagementRules: EngagementRule[];
  mql: { minFit: number; minEngagement: number; fastTrackTypes: string[]; fastTrackMinFit: number };
  sla: { mqlResponseHours: number; mqlDispositionHours: number; rejectionReasons: string[] };
}

function IcpForm({ config, disabled, reload }: { config: Config; disabled: boolean; reload: () => void }) {
  const [thresholds, setThresholds] = useState({ a: "", b: "", c: "" });
  const [rules, setRules] = useState<FitRule[]>([]);
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  useEffect(() => {
    const t = config.gradeThresholds;
    setThresholds({ a: String(t.a), b: String(t.b), c: String(t.c) });
    setRules(config.fitRules.map((r) => ({ attribute: r.attribute, op: r.op, value: JSON.stringify(r.value), points: String(r.points) })));
  }, [config.version]);
  const save = (event: Event) => {
    event.preventDefault();
    const problems: FieldProblem[] = [];
    const fitRules = rules.map((r, i) => {
      let value: unknown = null;
      try {
        value = r.value.trim() === "" ? null : JSON.parse(r.value);
      } catch {
        problems.push({ path: `fitRules[${i}].value`, message: 'Enter the value as JSON: "VP" for a word, ["a", "b"] for a list, 500 for a number.' });
      }
      return { attribute: r.attribute, op: r.op, value, points: Number(r.points) };
    });
    problems.push(
      ...checkNumbers([
        ...(["a", "b", "c"] as const).map((g): [string, string, { min: number; max: number; whole: boolean }] => [`gradeThresholds.${g}`, thresholds[g], { min: 0, max: 100, whole: true }]),
        ...rules.map((r, i): [string, string, { min: number; max: number; whole: boolean }] => [`fitRules[${i}].points`, r.points, { min: -1000, max: 1000, whole: true }]),
      ]),
    );
    rules.forEach((r, i) => {
      if (!r.attribute.trim()) problems.push({ path: `fitRules[${i}].attribute`, message: "Required." });
    });
    if (problems.length) {
      setOutcome({ problems, message: "Fix the fields marked above.", saved: false });
      return;
    }
    const gradeThresholds = { a: Number(thresholds.a), b: Number(thresholds.b), c: Number(thresholds.c) };
    submit(UPDATE_ICP, { fitRules, gradeThresholds }, setOutcome, reload);
  };
  const setRule = (i: number, patch: Partial<FitRule>) => setRules(rules.map((r, j) => (i === j ? { ...r, ...patch } : r)));
  return (
    <form class="card wide" onSubmit={save} aria-labelledby="icp-title" noValidate>
      <h2 id="icp-title">Ideal customer profile</h2>
      <fieldset disabled={disabled}>
        <legend>Grade thresholds (minimum fit score)</legend>
        <div class="row">
          {(["a", "b", "c"] as const).map((g) => (
            <Field
              id={`grade-${g}`}
              label={`Grade ${g.toUpperCase()}`}
              value={thresholds[g]}
              onInput={(v) => setThresholds({ ...thresholds, [g]: v })}
              outcome={outcome}
              problemKey={`gradeThresholds.${g}`}
              disabled={disabled}
            />
          ))}
        </div>
      </fieldset>
      <fieldset disabled={disabled}>
        <legend>Fit rules</legend>
        {rules.length === 0 && (
          <p class="muted small">
            No fit rule yet: every lead has fit 0 (grade D).{disabled ? "" : " Add a rule, e.g. industry is \"saas\": 30 points."}
          </p>
        )}
        {rules.map((rule, i) => (
          <div class="rule" key={i}>
            <Field id={`rule-${i}-attribute`} label="Attribute" type="text" value={rule.attribute} onInput={(v) => setRule(i, { attribute: v })} outcome={outcome} problemKey={`fitRules[${i}].attribute`} disabled={disabled} />
            <div class="field">
              <label for={`rule-${i}-op`}>Operator</label>
              <select id={`rule-${i}-op`} value={rule.op} onChange={(e) => setRule(i, { op: (e.target as HTMLSelectElement).value })}>
                {OPS.map((op) => (
                  <option value={op}>{humanise(op)}</option>
                ))}
              </select>
              {problemFor(outcome, `fitRules[${i}].op`) && <p class="field-error">{problemFor(outcome, `fitRules[${i}].op`)}</p>}
            </div>
            <Field id={`rule-${i}-value`} label="Value (JSON)" type="text" value={rule.value} onInput={(v) => setRule(i, { value: v })} outcome={outcome} problemKey={`fitRules[${i}].value`} disabled={disabled} />
            <Field id={`rule-${i}-points`} label="Points" value={rule.points} onInput={(v) => setRule(i, { points: v })} outcome={outcome} problemKey={`fitRules[${i}].points`} disabled={disabled} />
            {!disabled && (
              <button type="button" class="ghost small" aria-label={`Remove fit rule ${i + 1}`} onClick={() => setRules(rules.filter((_, j) => j !== i))}>
                Remove
              </button>
            )}
          </div>
        ))}
        {!disabled && (
          <button type="button" class="ghost" onClick={() => setRules([...rules, { attribute: "", op: "eq", value: '""', points: "10" }])}>
            Add fit rule
          </button>
        )}
      </fieldset>
      <FormNote outcome={outcome} />
      {!disabled && (
        <button type="submit" class="primary">
          Save ICP
        </button>
      )}
    </form>
  );
}

function ScoringForm({ config, disabled, reload }: { config: Config; disabled: boolean; reload: () => void }) {
  const [values, setValues] = useState({ windowDays: "", minFit: "", minEngagement: "" });
  const [rules, setRules] = useState<RuleDraft[]>([]);
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const [preview, setPreview] = useState<Preview | null>(null);
  useEffect(() => {
    setValues({ windowDays: String(config.windowDays), minFit: String(config.mql.minFit), minEngagement: String(config.mql.minEngagement) });
    setRules(config.engagementRules.map((r) => ({ eventType: r.eventType, when: r.when, points: String(r.points), cap: r.maxPerWindow == null ? "" : String(r.maxPerWindow) })));
  }, [config.version]);
  const problems = checkNumbers([
    ["windowDays", values.windowDays, { min: 1, max: 3650, whole: true, unit: "days" }],
    ["mql.minFit", values.minFit, { min: 0, max: 100, whole: true }],
    ["mql.minEngagement", values.minEngagement, { min: 0, max: 100, whole: true }],
    ...rules.flatMap((r, i): [string, string, { min: number; max: number; whole: boolean; optional?: boolean }][] => [
      [`engagementRules[${i}].points`, r.points, { min: -100, max: 100, whole: true }],
      [`engagementRules[${i}].maxPerWindow`, r.cap, { min: 1, max: 1000, whole: true, optional: true }],
    ]),
  ]);
  const input = {
    windowDays: Number(values.windowDays),
    mql: { minFit: Number(values.minFit), minEngagement: Number(values.minEngagement) },
    engagementRules: rules.map((r) => ({
      eventType: r.eventType,
      ...(r.when ? { when: r.when } : {}),
      points: Number(r.points),
      maxPerWindow: r.cap.trim() === "" ? null : Number(r.cap),
    })),
  };
  const key = JSON.stringify(input);
  useEffect(() => {
    // What saving would do, recomputed a moment after the last change.
    if (disabled || problems.length) {
      setPreview(null);
      return;
    }
    let cancelled = false;
    const timer = window.setTimeout(() => {
      gql<{ scoringModelPreview: Preview }>(PREVIEW, { input })
        .then((d) => !cancelled && setPreview(d.scoringModelPreview))
        .catch(() => !cancelled && setPreview(null));
    }, 400);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [key, disabled, problems.length]);
  const save = (event: Event) => {
    event.preventDefault();
    if (problems.length) {
      setOutcome({ problems, message: "Fix the fields marked above.", saved: false });
      return;
    }
    submit(UPDATE_SCORING, input, setOutcome, reload);
  };
  const shown: Outcome = outcome.saved || outcome.message ? outcome : NONE;
  const setRule = (i: number, patch: Partial<RuleDraft>) => setRules(rules.map((r, j) => (i === j ? { ...r, ...patch } : r)));
  return (
    <form class="card wide" onSubmit={save} aria-labelledby="scoring-title" noValidate>
      <h2 id="scoring-title">Scoring model</h2>
      {config.engagementRules.length === 0 && (
        <p class="note warn" role="status" data-empty-model>
          The scoring model has no engagement rules: every lead's engagement is 0 and no lead becomes an MQL by engagement.{" "}
          {disabled ? "Ask an admin to add rules or restore an earlier version." : "Add rules below, or restore an earlier version under Change history."}
        </p>
      )}
      <fieldset disabled={disabled}>
        <legend class="sr-only">Scoring model</legend>
        <div class="row">
          <Field id="window-days" label="Engagement window (days)" value={values.windowDays} onInput={(v) => setValues({ ...values, windowDays: v })} outcome={shown} problemKey="windowDays" disabled={disabled} />
          <Field id="mql-min-fit" label="MQL: minimum fit" value={values.minFit} onInput={(v) => setValues({ ...values, minFit: v })} outcome={shown} problemKey="mql.minFit" disabled={disabled} />
          <Field id="mql-min-engagement" label="MQL: minimum engagement" value={values.minEngagement} onInput={(v) => setValues({ ...values, minEngagement: v })} outcome={shown} problemKey="mql.minEngagement" disabled={disabled} />
        </div>
        <p class="muted small">
          A lead becomes an MQL when its fit and its engagement both reach these minimums
          {config.mql.fastTrackTypes.length ? `, or at once on ${config.mql.fastTrackTypes.map((t) => humanise(t).toLowerCase()).join(" or ")}` : ""}.
          <Definition text="Engagement is the sum of the points of a lead's touches in the window (each rule's total capped at its cap), from 0 to 100." />
        </p>
      </fieldset>
      <fieldset disabled={disabled}>
        <legend>Engagement rules</legend>
        {rules.length === 0 && <p class="muted small">No engagement rule: no touch earns points.</p>}
        {rules.map((rule, i) => (
          <div class="rule" key={i} data-engagement-rule={rule.eventType}>
            <div class="field">
              <label for={`eng-${i}-type`}>Touch</label>
              <select id={`eng-${i}-type`} value={rule.eventType} onChange={(e) => setRule(i, { eventType: (e.target as HTMLSelectElement).value })}>
                {[...new Set([...TOUCH_TYPES, rule.eventType])].map((t) => (
                  <option value={t}>{humanise(t)}</option>
                ))}
              </select>
              {rule.when && (
                <p class="muted small">
                  only when {humanise(rule.when.attribute).toLowerCase()} {humanise(rule.when.op)} {JSON.stringify(rule.when.value)}
                </p>
              )}
            </div>
            <Field id={`eng-${i}-points`} label="Points per touch" value={rule.points} onInput={(v) => setRule(i, { points: v })} outcome={shown} problemKey={`engagementRules[${i}].points`} disabled={disabled} />
            <Field id={`eng-${i}-cap`} label="Cap per window (optional)" value={rule.cap} onInput={(v) => setRule(i, { cap: v })} outcome={shown} problemKey={`engagementRules[${i}].maxPerWindow`} disabled={disabled} />
            {!disabled && (
              <button type="button" class="ghost small" aria-label={`Remove the ${humanise(rule.eventType)} rule`} onClick={() => setRules(rules.filter((_, j) => j !== i))}>
                Remove
              </button>
            )}
          </div>
        ))}
        {!disabled && (
          <button type="button" class="ghost" onClick={() => setRules([...rules, { eventType: "webinar_attended", when: null, points: "10", cap: "" }])}>
            Add engagement rule
          </button>
        )}
      </fieldset>
      {!disabled && (
        <p class="muted small rule-preview" role="status" aria-live="polite" data-preview={preview ? preview.newMqls : ""}>
          {problems.length
            ? "Fix the marked fields to see what this model would change."
            : preview
              ? `If saved now: moves ${fmt.int(preview.newMqls)} of ${fmt.int(preview.leadsChecked)} leads not yet MQL to MQL; engagement rises for ${fmt.int(preview.engagementUp)} and falls for ${fmt.int(preview.engagementDown)}.`
              : "Working out what this model would change…"}
        </p>
      )}
      {!disabled && problems.length > 0 && (
        <ul class="field-error small" data-client-problems>
          {problems.map((p) => (
            <li key={p.path}>
              {labelOf(p.path)}: {p.message}
            </li>
          ))}
        </ul>
      )}
      <FormNote outcome={outcome} />
      {!disabled && (
        <button type="submit" class="primary">
          Save scoring model
        </button>
      )}
    </form>
  );
}

/** A field path in the words of its label. */
function labelOf(path: string): string {
  const rule = path.match(/engagementRules\[(\d+)\]\.(\w+)/);
  if (rule) return `Rule ${Number(rule[1]) + 1}, ${rule[2] === "points" ? "points" : "cap"}`;
  return { windowDays: "Engagement window", "mql.minFit": "MQL minimum fit", "mql.minEngagement": "MQL minimum engagement" }[path] ?? path;
}

interface VersionRow {
  version: number;
  section: string;
  authorName: string;
  createdAt: string;
  restoredFrom: number | null;
}

/** Every change of the settings, who made it and when, and a way back to any version. */
function HistoryCard({ current, disabled, reload }: { current: number; disabled: boolean; reload: () => void }) {
  const { data, error, reload: again } = useQuery<{ configHistory: { edges: { node: VersionRow }[] } }>(HISTORY, { current }, false);
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const restore = async (version: number) => {
    if (!window.confirm(`Bring back the settings of version ${version}? Leads are re-scored under them within a minute; the change history keeps every version.`)) return;
    try {
      const answer = await gql<{ restoreConfigVersion: { version: number } }>(RESTORE, { version });
      setOutcome({ problems: [], message: `Version ${version} restored as version ${answer.restoreConfigVersion.version}. Leads are re-scored within a minute.`, saved: true });
      reload();
      again();
    } catch (exc) {
      setOutcome(exc instanceof ApiError ? failed(exc) : failed(String(exc)));
    }
  };
  const rows = data?.configHistory.edges.map((e) => e.node) ?? [];
  return (
    <Card title="Change history" wide>
      {error && <ErrorNote error={error} retry={again} />}
      {!data ? (
        !error && <Loading what="the change history" />
      ) : rows.length === 0 ? (
        <p class="muted small">No change yet: the tenant runs on the default settings.</p>
      ) : (
        <ol class="history" reversed>
          {rows.map((v) => (
            <li key={v.version} data-version={v.version}>
              <strong>Version {v.version}</strong>: {v.restoredFrom ? `version ${v.restoredFrom} restored` : humanise(v.section)} by {v.authorName}, {fmt.dateTime(v.createdAt)}
              {v.version === current ? (
                <span class="muted small"> (current)</span>
              ) : (
                !disabled && (
                  <>
                    {" "}
                    <button type="button" class="small" onClick={() => restore(v.version)}>
                      Restore<span class="sr-only"> version {v.version}</span>
                    </button>
                  </>
                )
              )}
            </li>
          ))}
        </ol>
      )}
      <FormNote outcome={outcome} />
    </Card>
  );
}

function SlaForm({ config, disabled, reload }: { config: Config; disabled: boolean; reload: () => void }) {
  const [values, setValues] = useState({ response: "", disposition: "", reasons: "" });
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  useEffect(() => {
    setValues({
      response: String(config.sla.mqlResponseHours),
      disposition: String(config.sla.mqlDispositionHours),
      reasons: config.sla.rejectionReasons.join(", "),
    });
  }, [config.version]);
  const save = (event: Event) => {
    event.preventDefault();
    const rejectionReasons = values.reasons.split(",").map((r) => r.trim()).filter(Boolean);
    const problems = checkNumbers([
      ["mqlResponseHours", values.response, { min: 0.5, max: 8760, unit: "hours" }],
      ["mqlDispositionHours", values.disposition, { min: 0.5, max: 8760, unit: "hours" }],
    ]);
    if (rejectionReasons.length === 0) problems.push({ path: "rejectionReasons", message: "Required: at least one reason." });
    if (problems.length) {
      setOutcome({ problems, message: "Fix the fields marked above.", saved: false });
      return;
    }
    submit(
      UPDATE_SLA,
      { mqlResponseHours: Number(values.response), mqlDispositionHours: Number(values.disposition), rejectionReasons },
      setOutcome,
      reload,
    );
  };
  return (
    <form class="card" onSubmit={save} aria-labelledby="sla-title" noValidate>
      <h2 id="sla-title">SLA rules</h2>
      <fieldset disabled={disabled}>
        <legend class="sr-only">SLA rules</legend>
        <Field id="sla-response" label="First response within (hours)" step="0.5" value={values.response} onInput={(v) => setValues({ ...values, response: v })} outcome={outcome} problemKey="mqlResponseHours" disabled={disabled} />
        <Field id="sla-disposition" label="Accept or reject within (hours)" step="0.5" value={values.disposition} onInput={(v) => setValues({ ...values, disposition: v })} outcome={outcome} problemKey="mqlDispositionHours" disabled={disabled} />
        <Field id="sla-reasons" label="Rejection reasons (comma-separated)" type="text" value={values.reasons} onInput={(v) => setValues({ ...values, reasons: v })} outcome={outcome} problemKey="rejectionReasons" disabled={disabled} />
      </fieldset>
      <FormNote outcome={outcome} />
      {!disabled && (
        <button type="submit" class="primary">
          Save SLA rules
        </button>
      )}
    </form>
  );
}

export function SettingsPage() {
  const { role } = useSession();
  const { data, error, reload } = useQuery<{ tenantConfig: Config }>(CONFIG_QUERY, {}, false);
  if (error && !data) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="the settings" />;
  const config = data.tenantConfig;
  const disabled = !can.editSettings(role);
  return (
    <div class="grid">
      <p class="muted small wide">
        {disabled ? "Read only: only admin keys change the settings. " : ""}
        Version {config.version}
        {config.updatedAt ? `, saved ${fmt.dateTime(config.updatedAt)}` : " (the defaults)"}; who changed what is under Change history.
      </p>
      <IcpForm config={config} disabled={disabled} reload={reload} />
      <ScoringForm config={config} disabled={disabled} reload={reload} />
      <SlaForm config={config} disabled={disabled} reload={reload} />
      <HistoryCard current={config.version} disabled={disabled} reload={reload} />
      {disabled ? (
        <p class="muted small wide">Webhooks and connectors are managed with admin keys.</p>
      ) : (
        <>
          <WebhooksCard />
          <ConnectorsCard />
          <ShareLinksCard />
        </>
      )}
    </div>
  );
}
