import { useState } from "preact/hooks";
import { can, gql } from "../api";
import { failed, FormNote, NONE, type Outcome } from "../forms";
import { fmt } from "../format";
import { Card, ChartBox, DataTable, Empty, ErrorNote, Loading, PALETTE, useQuery, useSession } from "../ui";

const HORIZONS = [30, 60, 90, 180];

const FORECAST_QUERY = `query Forecast($horizon: Int!) {
  forecast(horizonDays: $horizon) {
    horizonDays expectedRevenue low high learned
    byStage { stage openOpportunities openAmount winProbability expectedRevenue }
    stageProbabilities { stage probability opportunities }
    backtest { weeks { asOf forecast actual } mape }
  }
}`;

const MODEL_QUERY = `query PredictiveModel {
  predictiveModel {
    status version trainedAt labelledLeads positives auc brier rulesAuc
    calibration { predicted actual leads }
    factors { feature weight }
  }
  top: leads(orderBy: PREDICTED_DESC, first: 10) {
    edges { node { id stage fitGrade prediction { probability percentile tier } } }
  }
}`;

const PROPOSAL_QUERY = `query ScoringProposal { scoringProposal { modelVersion icp scoringModel expectedAuc } }`;
const TRAIN = `mutation TrainPredictiveModel { trainPredictiveModel { status version } }`;
const APPLY = `mutation ApplyProposal($icp: IcpInput!, $scoring: ScoringModelInput!) {
  updateIcp(input: $icp) { version }
  updateScoringModel(input: $scoring) { version }
}`;

interface StageRow {
  stage: string;
  openOpportunities: number;
  openAmount: number;
  winProbability: number;
  expectedRevenue: number;
}
interface Forecast {
  horizonDays: number;
  expectedRevenue: number;
  low: number;
  high: number;
  learned: boolean;
  byStage: StageRow[];
  stageProbabilities: { stage: string; probability: number; opportunities: number }[];
  backtest: { weeks: { asOf: string; forecast: number; actual: number }[]; mape: number | null };
}
interface Model {
  status: "READY" | "INSUFFICIENT_DATA" | "NOT_TRAINED";
  version: number | null;
  trainedAt: string | null;
  labelledLeads: number;
  positives: number;
  auc: number | null;
  brier: number | null;
  rulesAuc: number | null;
  calibration: { predicted: number; actual: number; leads: number }[];
  factors: { feature: string; weight: number }[];
}
interface FitRule {
  attribute: string;
  op: string;
  value: unknown;
  points: number;
}
interface Proposal {
  modelVersion: number;
  icp: { fitRules: FitRule[] };
  scoringModel: { engagementRules: { eventType: string; points: number }[] };
  expectedAuc: number | null;
}

const auc = (v: number | null) => (v == null ? "–" : v.toFixed(3));

function ForecastCard() {
  const [horizon, setHorizon] = useState(90);
  const { data, error, reload } = useQuery<{ forecast: Forecast }>(FORECAST_QUERY, { horizon });
  return (
    <Card title="Revenue forecast" wide>
      <label class="filters">
        <span>Horizon</span>
        <select value={horizon} onChange={(e) => setHorizon(Number((e.target as HTMLSelectElement).value))}>
          {HORIZONS.map((h) => (
            <option value={h}>Next {h} days</option>
          ))}
        </select>
      </label>
      {error && <ErrorNote error={error} retry={reload} />}
      {!data ? (
        <Loading what="the forecast" />
      ) : (
        <ForecastView forecast={data.forecast} />
      )}
    </Card>
  );
}

function ForecastView({ forecast: f }: { forecast: Forecast }) {
  const weeks = f.backtest.weeks;
  return (
    <>
      <dl class="facts">
        <div>
          <dt>Expected revenue</dt>
          <dd data-forecast-expected>{fmt.money(f.expectedRevenue)}</dd>
        </div>
        <div>
          <dt>80 % interval</dt>
          <dd data-forecast-interval>
            {fmt.money(f.low)} to {fmt.money(f.high)}
          </dd>
        </div>
        <div>
          <dt>Backtest error (MAPE)</dt>
          <dd data-forecast-mape>{fmt.pct(f.backtest.mape)}</dd>
        </div>
        <div>
          <dt>Win probabilities</dt>
          <dd>{f.learned ? "learned from your closed deals" : "standard 20/40/60/80/90 % (fewer than 30 closed deals)"}</dd>
        </div>
      </dl>
      <DataTable
        caption={`Open pipeline by stage, next ${f.horizonDays} days`}
        rowKey={(s) => s.stage}
        rows={f.byStage}
        empty="No open opportunity: nothing to forecast yet."
        columns={[
          { label: "Stage", value: (s) => <span data-forecast-stage={s.stage}>{s.stage === "(no stage)" ? "No stage yet" : s.stage}</span> },
          { label: "Open deals", value: (s) => fmt.int(s.openOpportunities), numeric: true },
          { label: "Open amount", value: (s) => fmt.money(s.openAmount), numeric: true },
          { label: "Win probability", value: (s) => fmt.pct(s.winProbability), numeric: true },
          { label: "Expected", value: (s) => fmt.money(s.expectedRevenue), numeric: true },
        ]}
      />
      <h3>Backtest: what each past week forecast, and what was won</h3>
      {weeks.length === 0 ? (
        <Empty>Not enough history yet: a backtest needs deals older than the horizon.</Empty>
      ) : (
        <>
          <ChartBox
            summary={`Forecast against revenue won, ${weeks.length} weeks: ${weeks
              .map((w) => `${fmt.date(w.asOf)} forecast ${fmt.money(w.forecast)}, won ${fmt.money(w.actual)}`)
              .join("; ")}`}
            config={{
              type: "line",
              data: {
                labels: weeks.map((w) => fmt.date(w.asOf)),
                datasets: [
                  { label: "Forecast", data: weeks.map((w) => w.forecast), borderColor: PALETTE[0], backgroundColor: PALETTE[0] },
                  { label: "Won", data: weeks.map((w) => w.actual), borderColor: PALETTE[1], backgroundColor: PALETTE[1] },
                ],
              },
            }}
          />
          <DataTable
            caption="Backtest by week"
            rowKey={(w) => w.asOf}
            rows={weeks}
            empty=""
            columns={[
              { label: "Forecast made on", value: (w) => <span data-backtest-week>{fmt.date(w.asOf)}</span> },
              { label: "Forecast", value: (w) => fmt.money(w.forecast), numeric: true },
              { label: "Won", value: (w) => fmt.money(w.actual), numeric: true },
            ]}
          />
        </>
      )}
    </>
  );
}

function ProposalView({ onApplied }: { onApplied: () => void }) {
  const { data, error, reload } = useQuery<{ scoringProposal: Proposal | null }>(PROPOSAL_QUERY, {}, false);
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const [busy, setBusy] = useState(false);
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="the proposal" />;
  const p = data.scoringProposal;
  if (!p) return <Empty>No proposal until a model is trained.</Empty>;
  const apply = async () => {
    setBusy(true);
    try {
      await gql(APPLY, { icp: p.icp, scoring: p.scoringModel });
      setOutcome({ problems: [], message: "Applied. Leads are re-scored within a minute.", saved: true });
      onApplied();
    } catch (exc) {
      setOutcome(failed(exc));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div data-proposal>
      <p>
        Rules derived from the model would have had an AUC of <strong data-proposal-auc>{auc(p.expectedAuc)}</strong> on the
        same newest leads. Applying replaces the fit rules and the engagement points; review them first.
      </p>
      <DataTable
        caption="Proposed fit rules"
        rowKey={(r) => `${r.attribute}${r.op}${String(r.value)}`}
        rows={p.icp.fitRules}
        empty="No trait moves the odds enough for a fit rule."
        columns={[
          { label: "Trait", value: (r) => fmt.label(r.attribute) },
          { label: "Condition", value: (r) => `${r.op === "eq" ? "is" : r.op === "gte" ? "at least" : "at most"} ${String(r.value)}` },
          { label: "Points", value: (r) => r.points, numeric: true },
        ]}
      />
      <DataTable
        caption="Proposed engagement points per touch"
        rowKey={(r) => r.eventType}
        rows={p.scoringModel.engagementRules}
        empty="No touch moves the odds enough for points."
        columns={[
          { label: "Touch", value: (r) => fmt.label(r.eventType) },
          { label: "Points", value: (r) => r.points, numeric: true },
        ]}
      />
      <button type="button" class="primary" disabled={busy} onClick={apply}>
        Apply the proposed rules
      </button>
      <FormNote outcome={outcome} />
    </div>
  );
}

function ModelCard() {
  const { role } = useSession();
  const admin = can.editSettings(role);
  const { data, error, reload } = useQuery<{
    predictiveModel: Model;
    top: { edges: { node: { id: string; stage: string; fitGrade: string; prediction: { probability: number; percentile: number; tier: number } | null } }[] };
  }>(MODEL_QUERY, {});
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const [busy, setBusy] = useState(false);
  const train = async () => {
    setBusy(true);
    try {
      await gql(TRAIN, {});
      setOutcome({ problems: [], message: "Trained. Every lead has been re-scored.", saved: true });
      reload();
    } catch (exc) {
      setOutcome(failed(exc));
    } finally {
      setBusy(false);
    }
  };
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="the predictive model" />;
  const m = data.predictiveModel;
  const top = data.top.edges.map((e) => e.node).filter((n) => n.prediction);
  return (
    <>
      <Card title="Predictive model: model against your rules" wide>
        {admin && (
          <p>
            <button type="button" disabled={busy} onClick={train}>
              Train the model now
            </button>{" "}
            <span class="muted small">It also retrains every night.</span>
          </p>
        )}
        <FormNote outcome={outcome} />
        {m.status === "NOT_TRAINED" && <Empty>No model yet: it is trained nightly once there are outcomes to learn from.</Empty>}
        {m.status === "INSUFFICIENT_DATA" && (
          <Empty>
            Not enough outcomes to learn from yet: <span data-model-labelled>{fmt.int(m.labelledLeads)}</span> leads with an outcome and{" "}
            {fmt.int(m.positives)} customers; the model needs at least 200 and 20.
          </Empty>
        )}
        {m.status === "READY" && (
          <>
            <dl class="facts">
              <div>
                <dt>Model AUC</dt>
                <dd data-model-auc>{auc(m.auc)}</dd>
              </div>
              <div>
                <dt>Your rules' AUC</dt>
                <dd data-rules-auc>{auc(m.rulesAuc)}</dd>
              </div>
              <div>
                <dt>Brier score</dt>
                <dd>{m.brier == null ? "–" : m.brier.toFixed(3)}</dd>
              </div>
              <div>
                <dt>Learned from</dt>
                <dd>
                  {fmt.int(m.labelledLeads)} leads, {fmt.int(m.positives)} customers (version {m.version}, {fmt.dateTime(m.trainedAt)})
                </dd>
              </div>
            </dl>
            <p class="muted small">
              Both are measured on the newest fifth of leads with an outcome, which the model did not learn from. An AUC of 0.5 is
              a coin toss, 1 a perfect ranking.
            </p>
            <h3>Calibration: predicted against actual</h3>
            <ChartBox
              summary={`Calibration: ${m.calibration
                .map((b) => `predicted ${fmt.pct(b.predicted)}, actual ${fmt.pct(b.actual)} (${b.leads} leads)`)
                .join("; ")}`}
              config={{
                type: "scatter",
                data: {
                  datasets: [
                    { label: "Leads by predicted probability", data: m.calibration.map((b) => ({ x: b.predicted, y: b.actual })), backgroundColor: PALETTE[0] },
                    { label: "Perfect calibration", type: "line", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], borderColor: PALETTE[5], pointRadius: 0 },
                  ],
                },
                options: { scales: { x: { min: 0, max: 1, title: { display: true, text: "Predicted" } }, y: { min: 0, max: 1, title: { display: true, text: "Actual" } } } },
              }}
            />
            <DataTable
              caption="Calibration by tenth of predicted probability"
              rowKey={(b) => String(b.predicted)}
              rows={m.calibration}
              empty=""
              columns={[
                { label: "Predicted", value: (b) => <span data-calibration>{fmt.pct(b.predicted)}</span>, numeric: true },
                { label: "Actual", value: (b) => fmt.pct(b.actual), numeric: true },
                { label: "Leads", value: (b) => fmt.int(b.leads), numeric: true },
              ]}
            />
            <h3>What the model weighs</h3>
            <DataTable
              caption="The model's largest weights"
              rowKey={(f) => f.feature}
              rows={m.factors.slice(0, 12)}
              empty=""
              columns={[
                { label: "Feature", value: (f) => <span data-model-factor>{f.feature}</span> },
                { label: "Effect", value: (f) => (f.weight > 0 ? "raises" : "lowers") },
                { label: "Weight", value: (f) => f.weight.toFixed(2), numeric: true },
              ]}
            />
          </>
        )}
      </Card>
      {m.status === "READY" && (
        <Card title="Most likely to buy">
          <DataTable
            caption="Leads with the highest predicted probability"
            rowKey={(l) => l.id}
            rows={top}
            empty="No lead has a prediction yet."
            columns={[
              { label: "Lead", value: (l) => <span data-top-lead>{l.id}</span> },
              { label: "Stage", value: (l) => fmt.label(l.stage) },
              { label: "Probability", value: (l) => fmt.pct(l.prediction?.probability), numeric: true },
              { label: "Tier", value: (l) => l.prediction?.tier ?? "–", numeric: true },
            ]}
          />
        </Card>
      )}
      {m.status === "READY" && admin && (
        <Card title="Proposed rules from the model" wide>
          <ProposalView onApplied={reload} />
        </Card>
      )}
    </>
  );
}

export function ForecastPage() {
  return (
    <div class="grid">
      <ForecastCard />
      <ModelCard />
    </div>
  );
}
