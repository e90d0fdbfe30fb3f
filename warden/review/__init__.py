"""Human review: queues with aged priorities and leases, review quality (agreement, gold items,
label errors) and appeals.

`warden.review.service.ReviewService` is the API used by the HTTP endpoints, the console and the CLI;
storage lives in `Store.review` (`warden.store.review`). This package imports nothing heavy at import
time so the store can use its models.
"""
