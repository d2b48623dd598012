"""Health-insurance online eligibility (オンライン資格確認): insurers, the clearing house, reception terminals."""
