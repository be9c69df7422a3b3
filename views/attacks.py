"""Attacks: robust accuracy against the attack's budget, per model, beside the dense reference's.

An attack at a budget is a condition like a corruption at a severity (docs/attacks.md): its rows
carry the same geometry, so the other pages show it too (family "adversarial"). This page reads
what only attacks have: the budget in pixel units, and how each attack was run."""

import altair as alt
import polars as pl
import streamlit as st

from app.charts import empty, model_color
from app.export import download_buttons
from app.pickers import pick_models
from app.shared import catalog, in_percent, percent, query, require_store
from store import queries

st.title("Attacks")
require_store()
store = catalog()

settings = query(queries.attack_settings)
if settings.is_empty():
    empty("This store has no attacks. Add `[[conditions.attacks]]` tables to the build's config "
          "(PGD or AutoAttack, Linf or L2, a list of budgets; docs/attacks.md) and rebuild: the "
          "trained weights are cached, so only the evaluation runs again.")
    st.stop()

st.caption("Robust accuracy: the share of test samples a model still classifies right when an "
           "attack may move each input by at most the budget (in pixels of [0, 1]; Linf 8/255 = "
           "0.031). Budget 0 is the clean accuracy. White-box attacks use each model's own "
           "gradients; a transfer gives every model the inputs crafted on its source model.")

curves = query(queries.robust_accuracy)
chosen = pick_models("Models", "models", default=list(store.model_id))
if not chosen:
    empty("Choose at least one model.")
    st.stop()
shown = curves.filter(pl.col("model").is_in(chosen))
order = [m for m in store.model_id if m in chosen]

for name, curve in shown.group_by("attack_name", maintain_order=True):
    attack = settings.filter(pl.col("attack_name") == name[0]).row(0, named=True)
    how = ("white-box, each model attacked on its own gradients" if attack["mode"] == "white-box"
           else f"transfer from {attack['source']}")
    st.markdown(f"**{name[0]}**: {attack['attack'].upper()} {attack['norm']}, {how}; "
                f"{attack['samples']:,} samples")
    linf = attack["norm"] == "Linf"
    data = curve.with_columns((pl.col("budget") * (255 if linf else 1)).alias("shown_budget"))
    x_title = "budget (Linf, in 1/255)" if linf else "budget (L2, in [0, 1] pixels)"
    st.altair_chart(
        alt.Chart(data).mark_line(point=alt.OverlayMarkDef(filled=True, size=50)).encode(
            x=alt.X("shown_budget:Q", title=x_title),
            y=alt.Y("accuracy:Q", title="robust accuracy", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1])),
            color=model_color(store.colours, shown=order, orient="bottom"),
            tooltip=["model", "condition", alt.Tooltip("budget:Q", format=".4f"),
                     alt.Tooltip("accuracy:Q", format=".1%"), "n",
                     alt.Tooltip("change_vs_reference:Q", title="vs reference (points)",
                                 format="+.1f")],
        ).properties(height=260), width="stretch")

st.markdown("**Each pruned model against its dense reference, budget by budget**")
table = in_percent(shown.filter(pl.col("reference").is_not_null()),
                   "accuracy", "reference_accuracy")
if table.is_empty():
    empty("None of the chosen models has a dense reference to compare with.")
else:
    st.dataframe(table.select("model", "reference", "attack_name", "budget_label", "accuracy",
                              "reference_accuracy", "change_vs_reference"),
                 hide_index=True, placeholder="–", column_config={
                     "model": "Model", "reference": "Reference", "attack_name": "Attack",
                     "budget_label": "Budget",
                     "accuracy": percent("Robust acc."),
                     "reference_accuracy": percent("Reference's"),
                     "change_vs_reference": st.column_config.NumberColumn(
                         "Change", format="%+.1f pts",
                         help="The model's robust accuracy minus its reference's, in points"),
                 })
    download_buttons(shown, "robust_accuracy", "attacks")

with st.expander("How each attack was run"):
    st.dataframe(settings.drop("attack_name"), hide_index=True, placeholder="–", column_config={
        "budget": st.column_config.NumberColumn("budget", format="%.5f"),
        "step_size": st.column_config.NumberColumn("step size", format="%.5f"),
    })
