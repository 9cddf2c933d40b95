"""Use cases, one module each: the only code that combines storage, Ray and the pure core.

The CLI, the HTTP routes and the job runner's steps call these functions; they parse their
input before and format the result after, and nothing else. A refusal is a
:class:`clipray.domain.errors.CodedError` that every door reports in its own way.
"""
