-- Robustness Lottery Explorer store, schema version 6. Version 5 lacked sample_accuracy;
-- version 4 also robustness_intervals, severity_changes and sampling_noise;
-- version 3 also the sweep columns of `models` and the per-(model, condition) summaries;
-- version 2 also shift_moments.
-- One file holds everything the app shows; compute writes it, the app only reads it.
-- Integer keys keep the metrics table small and joins fast; names live in the dimension tables
-- and in the *_named views below for people writing their own SQL.

CREATE TABLE meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE models (
    model_id           SMALLINT PRIMARY KEY,
    name               VARCHAR NOT NULL UNIQUE,
    arch               VARCHAR NOT NULL,
    method             VARCHAR NOT NULL,    -- 'dense' or a pruning method
    recipe             VARCHAR NOT NULL,    -- the config's [[models]] entry (a sweep's members share it)
    seed               INTEGER,             -- the sweep's seed (NULL for a model outside a seed sweep)
    target_sparsity    DOUBLE,              -- what the recipe asked for (NULL for dense)
    sparsity           DOUBLE NOT NULL,     -- measured: zero weights / prunable weights
    params_total       BIGINT NOT NULL,
    params_nonzero     BIGINT NOT NULL,
    reference_model_id SMALLINT,            -- the dense model a pruned one is compared with
    num_classes        SMALLINT NOT NULL,
    feature_dim        INTEGER NOT NULL,
    checkpoint         VARCHAR,
    checkpoint_sha256  VARCHAR,
    clean_accuracy     DOUBLE,
    notes              VARCHAR
);

CREATE TABLE classes (
    class_id SMALLINT PRIMARY KEY,
    name     VARCHAR NOT NULL
);

CREATE TABLE class_directions (
    model_id    SMALLINT NOT NULL,
    class_id    SMALLINT NOT NULL,
    weight_norm DOUBLE NOT NULL,   -- ||W_k||
    bias        DOUBLE NOT NULL,   -- b_k
    PRIMARY KEY (model_id, class_id)
);

-- The Gram of the class directions: every ordered pair, so that a sample's coordinates in the
-- plane of W_a and W_b are computable in SQL from length, angles and this table alone.
CREATE TABLE class_pairs (
    model_id SMALLINT NOT NULL,
    class_a  SMALLINT NOT NULL,
    class_b  SMALLINT NOT NULL,
    angle    DOUBLE NOT NULL,      -- degrees between W_a and W_b (90 if either is zero)
    dot      DOUBLE NOT NULL,      -- W_a . W_b
    PRIMARY KEY (model_id, class_a, class_b)
);

CREATE TABLE conditions (
    condition_id SMALLINT PRIMARY KEY,
    name         VARCHAR NOT NULL UNIQUE,   -- 'clean' or '<corruption>-<severity>'
    corruption   VARCHAR NOT NULL,          -- 'clean' for the clean condition; an attack's name
    severity     TINYINT NOT NULL,          -- 0 for clean, 1..5; an attack's budget rank
    family       VARCHAR NOT NULL,          -- clean, noise, blur, weather, digital, extra, adversarial
    benchmark    BOOLEAN NOT NULL           -- counts towards mean corruption accuracy / mCE
);

-- One row per attack condition (family 'adversarial'; compute/attacks.py): the library attack,
-- its norm and budget (pixels in [0, 1]), how it ran, and on which model. White-box: every model
-- attacked on its own gradients (source_model_id NULL); transfer: crafted on the source model,
-- every model given the same inputs.
CREATE TABLE attacks (
    condition_id    SMALLINT PRIMARY KEY,
    attack          VARCHAR NOT NULL,   -- pgd, autoattack (torchattacks 3.5.1)
    norm            VARCHAR NOT NULL,   -- Linf, L2
    budget          DOUBLE NOT NULL,    -- epsilon, in [0, 1] pixel units (8/255 = 0.0314)
    steps           SMALLINT NOT NULL,  -- PGD's iterations (AutoAttack's own otherwise)
    step_size       DOUBLE NOT NULL,    -- PGD's alpha
    random_start    BOOLEAN NOT NULL,
    mode            VARCHAR NOT NULL,   -- white-box, transfer
    source_model_id SMALLINT,           -- a transfer's source; NULL for white-box
    samples         INTEGER NOT NULL    -- test samples attacked
);

-- Per model and sample (the build's `[radius]` samples; compute/radius.py): the size of the
-- smallest adversarial perturbation a minimal-perturbation attack found, beside the
-- feature-space margin_distance. An upper bound on the true minimal perturbation, never a
-- certificate; 0 where the model is wrong on the clean sample, NULL where none was found.
CREATE TABLE radii (
    model_id  SMALLINT NOT NULL,
    sample_id INTEGER NOT NULL,
    method    VARCHAR NOT NULL,   -- deepfool (torchattacks 3.5.1)
    norm      VARCHAR NOT NULL,   -- the norm the radius is measured in: L2
    radius    DOUBLE,             -- in pixels of [0, 1]
    PRIMARY KEY (model_id, sample_id)
);

CREATE TABLE samples (
    sample_id INTEGER PRIMARY KEY,
    split     VARCHAR NOT NULL,
    label     SMALLINT NOT NULL,
    source    VARCHAR NOT NULL,   -- file path or dataset index the image came from
    thumbnail BLOB                -- PNG of the clean input
);

-- What a corruption did to an inspection subset of samples (its size is set in the config), so
-- the app can show corrupted images without torch. The clean image is samples.thumbnail.
CREATE TABLE condition_thumbnails (
    condition_id SMALLINT NOT NULL,
    sample_id    INTEGER NOT NULL,
    thumbnail    BLOB NOT NULL,       -- PNG
    PRIMARY KEY (condition_id, sample_id)
);

-- One row per (model, condition, sample). Angles in degrees; angles is NULL when the feature is 0.
-- The metric columns are the catalogue's (store/catalogue.py), in its order, filled in when the
-- store is created with {num_classes}: every model in a store shares the classes.
CREATE TABLE metrics (
    model_id        SMALLINT NOT NULL,
    condition_id    SMALLINT NOT NULL,
    sample_id       INTEGER NOT NULL,
{metric_columns}
);

-- What needs the raw penultimate features, which are not stored: computed during the build, for
-- every ordered pair of models under every condition. Agreement, error overlap and margin
-- correlation need only stored columns and are queries (store/queries/similarity.py: model_similarity).
CREATE TABLE model_similarity (
    model_a      SMALLINT NOT NULL,
    model_b      SMALLINT NOT NULL,
    condition_id SMALLINT NOT NULL,
    linear_cka   DOUBLE,               -- NULL where a model's features are constant
    PRIMARY KEY (model_a, model_b, condition_id)
);

-- Derived from `metrics` at the end of a build, so the corruption-redundancy view pools any set of
-- models without reading every metric row: per model, the moments of each corruption's
-- per-sample shift of a metric against clean, over the samples where every corruption's shift
-- is finite (store/queries/similarity.py: corruption_correlation; store/analysis.py: pool_moments).
CREATE TABLE shift_moments (
    model_id     SMALLINT NOT NULL,
    metric       VARCHAR NOT NULL,
    severity     TINYINT NOT NULL,     -- 0: each corruption's shift averaged over its severities
    corruption_a VARCHAR NOT NULL,
    corruption_b VARCHAR NOT NULL,
    n            BIGINT NOT NULL,      -- samples with every corruption's shift finite
    mean_a       DOUBLE NOT NULL,      -- their mean shift under corruption_a
    products     DOUBLE NOT NULL,      -- sum over them of (shift_a - mean_a) (shift_b - mean_b)
    -- No key: its index would take more room than the rows (the writer replaces whole views).
);

-- Derived from `metrics` when a store is committed (store/derived.py: put_summaries), so that pages
-- showing many models never scan every metric row: per (model, condition), the accuracy, the
-- expected calibration error and the mean of every plottable metric.
CREATE TABLE summaries (
    model_id        SMALLINT NOT NULL,
    condition_id    SMALLINT NOT NULL,
    n               INTEGER NOT NULL,
    accuracy        DOUBLE NOT NULL,
    ece             DOUBLE NOT NULL,   -- sum over confidence bins of n_b / n |accuracy_b - confidence_b|
    fragile         INTEGER,           -- samples the dense reference gets right and this model wrong
    gain            INTEGER,           -- ...and the reverse (both NULL for a model without reference)
{summary_means}
    PRIMARY KEY (model_id, condition_id)
);

-- Derived from `metrics` when a store is committed (store/derived.py: severity_changes_sql): per
-- pruned model and corruption, the moments over samples of each sample's change against the
-- dense reference averaged over the corruption's severities (mean over them of correct minus the
-- reference's correct), so the Pruning page can test a change averaged over severities with a
-- paired t-test over samples (the severities of one sample are not independent; samples are).
CREATE TABLE severity_changes (
    model_id   SMALLINT NOT NULL,
    corruption VARCHAR NOT NULL,
    n          INTEGER NOT NULL,    -- samples
    mean       DOUBLE NOT NULL,     -- = the change in accuracy averaged over severities
    sd         DOUBLE,              -- sample standard deviation of the per-sample changes
    PRIMARY KEY (model_id, corruption)
);

-- Derived from `metrics` when a store is committed (store/derived.py: sample_accuracy_sql): per
-- model, accuracy measure with a per-sample form and sample, under how many of the measure's
-- conditions the model classifies the sample right, of how many (`correct` / `k` is the sample's
-- accuracy): what the Sweep's head to head tests sample by sample pooled over seeds, and what
-- sampling_noise is computed from, so neither reads every metric row. No key: an index would
-- take more room than the rows.
CREATE TABLE sample_accuracy (
    model_id  SMALLINT NOT NULL,
    measure   VARCHAR NOT NULL,    -- mean_corruption_accuracy, clean_accuracy
    sample_id INTEGER NOT NULL,
    correct   SMALLINT NOT NULL,   -- conditions of the measure under which it is classified right
    k         SMALLINT NOT NULL    -- conditions of the measure it was evaluated under
);

-- Derived from `metrics` when a store is committed (store/derived.py: sampling_noise): per pruned
-- target sparsity and accuracy measure, what the test samples add to the spread between its
-- models (the Sweep's variance parts): the interaction mean square of the models x samples table
-- of per-sample accuracies; / samples, the variance a model's accuracy owes to the samples drawn
-- beyond what every model shares.
CREATE TABLE sampling_noise (
    target_sparsity DOUBLE NOT NULL,
    measure         VARCHAR NOT NULL,   -- mean_corruption_accuracy, clean_accuracy
    models          INTEGER NOT NULL,
    samples         INTEGER NOT NULL,
    interaction_ms  DOUBLE,
    PRIMARY KEY (target_sparsity, measure)
);

-- The reliability diagram's bins: 15 equal-width bins of confidence, (b/15, (b+1)/15]
-- (Guo et al. 2017, "On Calibration of Modern Neural Networks"); empty bins have no row.
CREATE TABLE calibration (
    model_id     SMALLINT NOT NULL,
    condition_id SMALLINT NOT NULL,
    bin          TINYINT NOT NULL,     -- 0..14
    n            INTEGER NOT NULL,
    confidence   DOUBLE NOT NULL,      -- mean confidence of the bin's samples
    accuracy     DOUBLE NOT NULL,      -- the fraction of them classified correctly
    PRIMARY KEY (model_id, condition_id, bin)
);

-- Derived from `metrics` when a store is committed (store/derived.py: robustness_intervals): per
-- model, its mean corruption accuracy, mCE, relative mCE and pooled relative mCE against its
-- reference, each with a 95 % percentile bootstrap interval over the test samples, paired with
-- the reference's (store/statistics.py: robustness_bootstrap; docs/statistics.md). NULL where a
-- figure is undefined (relative mCE where a reference's denominator is 0).
CREATE TABLE robustness_intervals (
    model_id SMALLINT NOT NULL,
    measure  VARCHAR NOT NULL,   -- mean_corruption_accuracy, mce, relative_mce, pooled_relative_mce
    estimate DOUBLE,             -- as model_overview computes it from the summaries
    low      DOUBLE,
    high     DOUBLE,
    PRIMARY KEY (model_id, measure)
);

CREATE VIEW accuracy AS
SELECT model_id, condition_id, accuracy, n FROM summaries;

CREATE VIEW metrics_named AS
SELECT m.name AS model, c.name AS condition, c.corruption, c.severity, c.family, mt.*
FROM metrics mt
JOIN models m USING (model_id)
JOIN conditions c USING (condition_id);
