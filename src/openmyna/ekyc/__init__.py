"""Private identity verification through a platform operator (公的個人認証の民間利用): eKYC and card login."""
