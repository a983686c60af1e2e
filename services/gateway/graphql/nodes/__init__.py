"""The domain types several GraphQL domains return, and the reads behind them: the Lead and
Account nodes and their loaders, the filtered pages of leads and accounts, deal
post-mortems, and the versioned library (with its influence) that messages and content
share.

A domain package imports from `nodes` and `core`; `nodes` imports `core` and no domain
package; `core` imports neither."""
