"""Attacks: robust accuracy against the attack's budget, per model, beside the dense reference's;
and the Margins view, each sample's feature-space margin against its input-space radius.

An attack at a budget is a condition like a corruption at a severity (docs/attacks.md): its rows
carry the same geometry, so the other pages show it too (family "adversarial"). This page reads
what only attacks have: the budget in pixel units, how each attack was run, and the radii."""

import altair as alt
import polars as pl
import streamlit as st

from app import margins, state
from app.charts import empty, model_color
from app.export import download_buttons
from app.pickers import pick_models
from app.shared import catalog, in_percent, percent, query, require_store
from store import queries

st.title("Attacks")
require_store()
state.link_keys("view", *state.models_keys("models"), "overlap_model", "overlap_severity")
store = catalog()


def curves(shown: pl.DataFrame, settings: pl.DataFrame, order: list[str]) -> None:
    """A chart per attack: robust accuracy against the budget, a line per model."""
    for name, curve in shown.group_by("attack_name", maintain_order=True):
        attack = settings.filter(pl.col("attack_name") == name[0]).row(0, named=True)
        how = ("white-box, each model attacked on its own gradients"
               if attack["mode"] == "white-box" else f"transfer from {attack['source']}")
        st.markdown(f"**{name[0]}**: {attack['attack'].upper()} {attack['norm']}, {how}; "
                    f"{attack['samples']:,} samples")
        linf = attack["norm"] == "Linf"
        data = curve.with_columns((pl.col("budget") * (255 if linf else 1)).alias("shown_budget"))
        # One budget beside clean is two measurements: a line between them would read as the
        # accuracy at the budgets in between, which nothing measured.
        chart = alt.Chart(data)
        chart = (chart.mark_line(point=alt.OverlayMarkDef(filled=True, size=50))
                 if data.filter(pl.col("budget") > 0)["budget"].n_unique() > 1
                 else chart.mark_point(filled=True, size=70, opacity=0.9))
        st.altair_chart(
            chart.encode(
                x=alt.X("shown_budget:Q", title="budget (Linf, in 1/255)" if linf
                        else "budget (L2, in [0, 1] pixels)"),
                y=alt.Y("accuracy:Q", title="robust accuracy", axis=alt.Axis(format="%"),
                        scale=alt.Scale(domain=[0, 1])),
                # The legend on the right: below, its rows took the plot's height.
                color=model_color(store.colours, shown=order),
                tooltip=["model", "condition", alt.Tooltip("budget_label:N", title="budget"),
                         alt.Tooltip("accuracy:Q", format=".1%"), "n",
                         alt.Tooltip("change_vs_reference:Q", title="vs reference (points)",
                                     format="+.1f")],
            ).properties(height=260), width="stretch")


def robust_accuracy(settings: pl.DataFrame, order: list[str]) -> None:
    """Robust accuracy against the budget, and each pruned model beside its reference."""
    if settings.is_empty():
        empty("This store has no attacks. Add `[[conditions.attacks]]` tables to the build's "
              "config (PGD or AutoAttack, Linf or L2, a list of budgets; docs/attacks.md) and "
              "rebuild: the trained weights are cached, so only the evaluation runs again.")
        return
    st.caption("Robust accuracy: the share of test samples a model still classifies right when an "
               "attack may move each input by at most the budget (in pixels of [0, 1]; Linf "
               "8/255 = 0.031). Budget 0 is the clean accuracy. White-box attacks use each "
               "model's own gradients; a transfer gives every model the inputs crafted on its "
               "source model.")
    shown = query(queries.robust_accuracy).filter(pl.col("model").is_in(order))
    curves(shown, settings, order)
    st.markdown("**Each pruned model against its dense reference, budget by budget**")
    st.caption("Both on the same samples and, for a transfer, the same inputs: those crafted on "
               "the source, for which the source's own accuracy is its white-box one. A pruned "
               "model far above its reference there resists the reference's perturbations; it is "
               "not more robust to its own (its white-box rows say that).")
    table = in_percent(shown.filter(pl.col("reference").is_not_null()),
                       "accuracy", "reference_accuracy")
    if table.is_empty():
        empty("Choose a pruned model to see it beside its dense reference.")
    else:
        st.dataframe(table.select("model", "reference", "attack_name", "mode", "budget_label",
                                  "accuracy", "reference_accuracy", "change_vs_reference"),
                     hide_index=True, placeholder="–", height=min(36 * (len(table) + 1) + 2, 720),
                     column_config={
                         "model": "Model", "reference": "Reference", "attack_name": "Attack",
                         "mode": "Mode", "budget_label": "Budget",
                         "accuracy": percent("Accuracy"),
                         "reference_accuracy": percent("Reference's"),
                         "change_vs_reference": st.column_config.NumberColumn(
                             "Change", format="%+.1f pts",
                             help="The model's robust accuracy minus its reference's, in points"),
                     })
        download_buttons(shown, "robust_accuracy", "attacks")
    with st.expander("How each attack was run"):
        st.dataframe(settings.drop("attack_name"), hide_index=True, placeholder="–",
                     column_config={
                         "budget": st.column_config.NumberColumn("budget", format="%.5f"),
                         "step_size": st.column_config.NumberColumn("step size", format="%.5f"),
                     })


chosen = pick_models("Models", "models", default=list(store.model_id))
if not chosen:
    empty("Choose at least one model.")
    st.stop()
order = [m for m in store.model_id if m in chosen]
# Lazy tabs: only the open one runs; `?view=` in the URL opens it.
accuracy_tab, margins_tab, overlap_tab = state.tabs(
    ["Robust accuracy", "Margins", "Attacks and corruptions"])
if accuracy_tab.open:
    with accuracy_tab:
        robust_accuracy(query(queries.attack_settings), order)
if margins_tab.open:
    with margins_tab:
        margins.tab(store.model_id, order, store.colours)
if overlap_tab.open:
    with overlap_tab:
        margins.overlap(store.model_id, order, store.conditions)
