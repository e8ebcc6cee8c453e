"""Value for money: what an intervention costs, per participant and per outcome, and what the
crime it prevents would have cost.

The modules, each usable on its own (phase B wires them into the logic-model format, the run,
the reports, the portfolio and the dashboard):

- :mod:`.costs`: the ``costs:`` block (raw pydantic model, validation with key paths and lines,
  resolved frozen objects), costs per period and per month;
- :mod:`.deflators`: a named GDP deflator series (shipped as a data file with its source) and
  the uplift from a price year to the analysis year;
- :mod:`.effects`: a minimal typed effect (estimate, interval, n, scale) turned into the number
  of outcomes achieved, so any design's estimate can feed it;
- :mod:`.ratio`: cost per outcome with an interval (Fieller, delta method, seeded Monte Carlo);
- :mod:`.crime_costs`: the Home Office unit costs of crime (versioned, cited), or a
  partnership's own table; monetised benefit, net benefit and benefit-cost ratio;
- :mod:`.cost_rating`: the 1-5 cost rating from the bands in ``cost_rules.yml``;
- :mod:`.sensitivity`: the low / central / high costs x effects table;
- :mod:`.results`: the typed result records and one tidy frame for each.

Nothing here imports pandas, numpy or scipy at module level.
"""
