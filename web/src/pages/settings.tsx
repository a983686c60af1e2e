import { useEffect, useState } from "preact/hooks";
import { can, type FieldProblem } from "../api";
import { Field, FormNote, NONE, type Outcome, problemFor, submit } from "../forms";
import { ConnectorsCard, WebhooksCard } from "./integrations";
import { ShareLinksCard } from "./sharing";
import { ErrorNote, Loading, useQuery, useSession } from "../ui";

export const CONFIG_QUERY = `query Settings {
  tenantConfig {
    version updatedAt updatedBy
    fitRules { attribute op value points }
    gradeThresholds { a b c }
    windowDays
    mql { minFit minEngagement }
    sla { mqlResponseHours mqlDispositionHours rejectionReasons }
  }
}`;
const UPDATE_ICP = "mutation ($input: IcpInput!) { updateIcp(input: $input) { version } }";
const UPDATE_SCORING = "mutation ($input: ScoringModelInput!) { updateScoringModel(input: $input) { version } }";
const UPDATE_SLA = "mutation ($input: SlaRulesInput!) { updateSlaRules(input: $input) { version } }";
const OPS = ["eq", "neq", "in", "not_in", "gte", "lte", "between", "contains", "exists"];

interface FitRule {
  attribute: string;
  op: string;
  value: string; // JSON text while edited
  points: string;
}
interface Config {
  version: number;
  updatedAt: string | null;
  updatedBy: string | null;
  fitRules: { attribute: string; op: string; value: unknown; points: number }[];
  gradeThresholds: { a: number; b: number; c: number };
  windowDays: number;
  mql: { minFit: number; minEngagement: number };
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
        problems.push({ path: `fitRules[${i}].value`, message: 'must be JSON, e.g. "VP" or ["a", "b"] or 500' });
      }
      return { attribute: r.attribute, op: r.op, value, points: Number(r.points) };
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
            No fit rule yet: every lead has fit 0 (grade D).{disabled ? "" : " Add a rule, e.g. attribute industry, eq, \"saas\", 30 points."}
          </p>
        )}
        {rules.map((rule, i) => (
          <div class="rule" key={i}>
            <Field id={`rule-${i}-attribute`} label="Attribute" type="text" value={rule.attribute} onInput={(v) => setRule(i, { attribute: v })} outcome={outcome} problemKey={`fitRules[${i}].attribute`} disabled={disabled} />
            <div class="field">
              <label for={`rule-${i}-op`}>Operator</label>
              <select id={`rule-${i}-op`} value={rule.op} onChange={(e) => setRule(i, { op: (e.target as HTMLSelectElement).value })}>
                {OPS.map((op) => (
                  <option value={op}>{op}</option>
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
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  useEffect(() => {
    setValues({ windowDays: String(config.windowDays), minFit: String(config.mql.minFit), minEngagement: String(config.mql.minEngagement) });
  }, [config.version]);
  const save = (event: Event) => {
    event.preventDefault();
    submit(
      UPDATE_SCORING,
      { windowDays: Number(values.windowDays), mql: { minFit: Number(values.minFit), minEngagement: Number(values.minEngagement) } },
      setOutcome,
      reload,
    );
  };
  return (
    <form class="card" onSubmit={save} aria-labelledby="scoring-title" noValidate>
      <h2 id="scoring-title">Scoring model</h2>
      <fieldset disabled={disabled}>
        <legend class="sr-only">Scoring model</legend>
        <Field id="window-days" label="Engagement window (days)" value={values.windowDays} onInput={(v) => setValues({ ...values, windowDays: v })} outcome={outcome} problemKey="windowDays" disabled={disabled} />
        <Field id="mql-min-fit" label="MQL: minimum fit" value={values.minFit} onInput={(v) => setValues({ ...values, minFit: v })} outcome={outcome} problemKey="mql.minFit" disabled={disabled} />
        <Field id="mql-min-engagement" label="MQL: minimum engagement" value={values.minEngagement} onInput={(v) => setValues({ ...values, minEngagement: v })} outcome={outcome} problemKey="mql.minEngagement" disabled={disabled} />
      </fieldset>
      <FormNote outcome={outcome} />
      {!disabled && (
        <button type="submit" class="primary">
          Save scoring model
        </button>
      )}
    </form>
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
        {config.updatedBy ? `, changed by ${config.updatedBy}` : ""}.
      </p>
      <IcpForm config={config} disabled={disabled} reload={reload} />
      <ScoringForm config={config} disabled={disabled} reload={reload} />
      <SlaForm config={config} disabled={disabled} reload={reload} />
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
