/*
 * careflow console charts: every element with a `data-chart` attribute is drawn with
 * Apache ECharts (vendored beside this file in echarts/, served by careflow itself).
 * The attribute holds the chart's numbers (careflow/console/charts.py writes it); the
 * same numbers are in a table under each chart. Hover shows a day's values, a click
 * on a legend entry hides or shows its series; counts start at zero in whole steps,
 * shares run from 0 to 100 %. Nothing is fetched and no inline script is needed, so
 * the page's Content-Security-Policy allows scripts from careflow only.
 */
(function () {
  "use strict";

  var PALETTE = ["#2f6db5", "#e07b39", "#4f9d69", "#b5475f", "#7a5fb5", "#8c8c8c"];

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function shown(spec, value) {
    if (value === null || value === undefined) {
      return "–";
    }
    if (spec.percent) {
      return (value * 100).toFixed(1) + "%";
    }
    return value.toLocaleString(spec.locale === "ZH" ? "zh-CN" : "en");
  }

  function tooltip(spec) {
    return function (points) {
      if (!points.length) {
        return "";
      }
      var index = points[0].dataIndex;
      var lines = ["<strong>" + escapeHtml(spec.titles[index]) + "</strong>"];
      var total = 0;
      points.forEach(function (point) {
        total += point.value || 0;
        lines.push(
          point.marker + escapeHtml(point.seriesName) + "&nbsp;&nbsp;<b>" +
            escapeHtml(shown(spec, point.value)) + "</b>"
        );
      });
      if (spec.stacked && points.length > 1) {
        lines.push("Σ&nbsp;&nbsp;<b>" + escapeHtml(shown(spec, total)) + "</b>");
      }
      return lines.join("<br>");
    };
  }

  function option(spec) {
    var valueAxis = spec.percent
      ? {
          type: "value",
          min: 0,
          max: 1,
          interval: 0.25,
          axisLabel: {
            formatter: function (value) {
              return Math.round(value * 100) + "%";
            },
          },
        }
      : { type: "value", min: 0, minInterval: 1 };
    return {
      color: PALETTE,
      animation: false,
      aria: { enabled: true, label: { description: spec.title } },
      grid: { left: 48, right: 16, top: 40, bottom: 28 },
      legend: { top: 0, left: 0, type: "scroll" },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: spec.kind === "bar" ? "shadow" : "line" },
        formatter: tooltip(spec),
      },
      xAxis: {
        type: "category",
        data: spec.labels,
        axisTick: { alignWithLabel: true },
        axisLabel: { hideOverlap: true },
      },
      yAxis: valueAxis,
      series: spec.series.map(function (series) {
        return {
          name: series.name,
          type: spec.kind,
          data: series.values,
          stack: spec.stacked ? "total" : undefined,
          barMaxWidth: 32,
          symbolSize: 5,
          connectNulls: false,
          emphasis: { focus: "series" },
        };
      }),
    };
  }

  function draw(element) {
    var spec = JSON.parse(element.getAttribute("data-chart"));
    var chart = window.echarts.init(element, null, { renderer: "svg", locale: spec.locale });
    chart.setOption(option(spec));
    window.addEventListener("resize", function () {
      chart.resize();
    });
  }

  function drawAll() {
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
