import * as common from '@grafana/grafana-foundation-sdk/common';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { datasource } from './dashboard-variables.ts';

/** One PromQL query of a panel; `legend` is a Grafana legend format such as `{{worker}}`. */
export interface Query {
  readonly expr: string;
  readonly legend: string;
}

export function targets(queries: readonly Query[]): DataqueryBuilder[] {
  return queries.map((q, i) =>
    new DataqueryBuilder()
      .expr(q.expr)
      .legendFormat(q.legend)
      .refId(String.fromCharCode(65 + i))
      .datasource(datasource),
  );
}

export function timeseries(
  title: string,
  description: string,
  unit: string,
  queries: readonly Query[],
  width = 12,
): TimeseriesPanelBuilder {
  return new TimeseriesPanelBuilder()
    .title(title)
    .description(description)
    .datasource(datasource)
    .targets(targets(queries))
    .unit(unit)
    .span(width)
    .height(8)
    .lineWidth(1)
    .fillOpacity(10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    );
}

export function stat(
  title: string,
  description: string,
  unit: string,
  query: Query,
  noValue: string,
): StatPanelBuilder {
  return new StatPanelBuilder()
    .title(title)
    .description(description)
    .datasource(datasource)
    .targets(targets([query]))
    .unit(unit)
    .noValue(noValue)
    .span(4)
    .height(4)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}
