"""The GraphQL API (SPEC 9.2): one package per domain, assembled in `schema`, served by
`endpoint.GraphQLApp` at /graphql."""
